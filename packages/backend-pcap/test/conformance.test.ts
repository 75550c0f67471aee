/**
 * The conformance kit on backend-pcap (frames arrive by being appended to its input, a growing
 * capture; sent frames are read back from its output file) and on a capture-wrapped memory pair.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '@netbe/core';
import { backendConformance, peerHarness } from '@netbe/conformance';
import '@netbe/backend-memory';
import { PcapBackend, captureToFile } from '@netbe/backend-pcap';
import { ByteBuffer, CaptureEncoder, decodeAll } from '@netbe/pcap';
import { openFileSink } from '@netbe/pcap/node';
import { LiveSource } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'netbe-pcap-conformance-'));
let files = 0;
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

backendConformance({
  name: 'backend-pcap',
  supports: {
    send: true,
    receive: true,
    vnetHeader: { notApplicable: 'a capture file holds bare Ethernet frames: getCap() is 0 and the device adapts headers' },
    reopen: true,
  },
  maxFrameLength: 9014,
  create: async () => {
    const input = new LiveSource();
    const encoder = new CaptureEncoder({ format: 'pcap', nanosecond: true });
    const bytes = new ByteBuffer();
    encoder.writeHeader(bytes);
    input.push(bytes.contents());
    const outPath = join(dir, `out-${files++}.pcapng`);
    const backend = new PcapBackend({
      name: 'pcap',
      input: { open: () => input },
      output: { sink: await openFileSink(outPath), format: 'pcapng', flushIntervalMs: 10 },
    });
    let collected = 0;
    return {
      backend,
      deliverToBackend: (frame: Uint8Array) => {
        bytes.reset();
        encoder.writePacket(bytes, [frame], 1, 0, { seconds: 1, nanos: 0 });
        input.push(bytes.contents());
      },
      collectFromBackend: async () => {
        await backend.flush().catch(() => {});
        const all = decodeAll(readFileSync(outPath));
        const fresh = all.slice(collected).map((p) => p.data);
        collected = all.length;
        return fresh;
      },
      close: () => input.end(),
    };
  },
}).run();

backendConformance({
  name: 'capture-wrapped memory pair',
  supports: { send: true, receive: true, vnetHeader: true, reopen: true },
  create: async () => {
    const name = `cap${files++}`;
    const a = await createBackend(`memory,mode=pair,peer=${name}`);
    const b = await createBackend(`memory,mode=pair,peer=${name}`);
    return peerHarness(await captureToFile(a, join(dir, `${name}.pcapng`), { flushIntervalMs: 50 }), b);
  },
}).run();
