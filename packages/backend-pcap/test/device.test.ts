/**
 * backend-pcap behind the real virtio-net device, driven by MockDriver rings as a guest driver
 * would: a replayed capture arrives in the guest's receive buffers (with backpressure when the
 * guest posts too few), and the frames the guest transmits land in `out`, read back by tshark.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createBackend, VIRTIO_NET_F_MRG_RXBUF } from '@netbe/core';
import { PcapBackend } from '@netbe/backend-pcap';
import { decodeAll } from '@netbe/pcap';
import { hasCommand, waitFor, withTimeout } from '@netbe/test-utils';
import { TestGuest, type ReceivedFrame } from '@netbe/virtio-net/testing';
import { ManualClock, captureFile, ethFrame } from './helpers';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'netbe-pcap-device-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const sizes = [60, 64, 100, 576, 1000, 1514, 9014];
const replayed = Array.from({ length: 70 }, (_, i) => ({ data: ethFrame(i, sizes[i % sizes.length]!), meta: { seconds: 1_700_000_000 + i, nanos: i * 1000 } }));

// With MRG_RXBUF and EVENT_IDX both on, a frame needing more buffers than are posted makes the
// device give chains back and wait for a kick; the replay must still complete (this once stalled:
// retChains moved avail_event back behind avail->idx).
for (const mergeable of [true, false]) {
  test(`a MockDriver guest receives a replayed capture and its frames land in out (MRG_RXBUF ${mergeable ? 'on' : 'off'})`, async () => {
    const inFile = join(dir, `in-${mergeable}.pcapng`);
    const outFile = join(dir, `out-${mergeable}.pcapng`);
    writeFileSync(inFile, captureFile('pcapng', replayed));
    const backend = (await createBackend(`pcap,in=${inFile},out=${outFile}`)) as PcapBackend;
    const guest = new TestGuest({ backend, wanted: mergeable ? ~0n : ~VIRTIO_NET_F_MRG_RXBUF });
    const got: ReceivedFrame[] = [];
    // Backpressure: 16 buffers, reposted as frames arrive (a 9014-byte frame takes 5 mergeable ones).
    const bufSize = mergeable ? 2048 : 9014 + 12;
    guest.postRx(16, bufSize);
    const deadline = Date.now() + 10_000;
    while (got.length < replayed.length && Date.now() < deadline) {
      const fresh = guest.receive();
      got.push(...fresh);
      const used = fresh.reduce((n, f) => n + f.buffers, 0);
      if (used > 0) guest.postRx(used, bufSize);
      else {
        // Buffers the device gave back unused are not counted in `used`: add one at a time so
        // the guest stays short of buffers (the device must wait, not drop).
        guest.postRx(1, bufSize);
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    assert.is(got.length, replayed.length, `frames received (device ${JSON.stringify(guest.device.stats)}, backend ${JSON.stringify(backend.stats)}, peek ${backend.peekRecvLen()})`);
    got.forEach((f, i) => assert.equal([...f.frame], [...replayed[i]!.data], `frame ${i}`));
    assert.ok(got.every((f) => f.header[0] === 0 && f.header[1] === 0), 'no offload flags or GSO in the headers');
    assert.is(backend.stats.rxDrops, 0, 'backpressure, not drops');
    await withTimeout(5000, backend.inputDone, 'inputDone');

    const sent = Array.from({ length: 25 }, (_, i) => ethFrame(1000 + i, 60 + i * 50));
    for (const f of sent) assert.ok(guest.send(f) >= 0);
    await waitFor(() => backend.stats.txFrames === sent.length, 5000, 'the device to transmit');
    guest.completeTx();
    await backend.close();
    const written = decodeAll(readFileSync(outFile));
    assert.equal(written.map((p) => [...p.data]), sent.map((f) => [...f]));
    assert.ok(written.every((p) => p.direction === 2));
    if (hasCommand('tshark')) {
      const { stdout } = await run('tshark', ['-r', outFile, '-T', 'fields', '-e', 'frame.len']);
      assert.equal(stdout.trim().split('\n').map(Number), sent.map((f) => f.length));
    }
  });
}

test('pace=original through the device: frames reach the guest when the clock says so', async () => {
  const clock = new ManualClock();
  const timed = [0, 1, 1, 5].map((s, i) => ({ data: ethFrame(i), meta: { seconds: 100 + s, nanos: 0 } }));
  const file = captureFile('pcap', timed);
  const { bytesSource } = await import('@netbe/pcap');
  const backend = new PcapBackend({ name: 'pcap', clock, input: { open: () => bytesSource(file), pace: 'original' } });
  const guest = new TestGuest({ backend });
  guest.postRx(8, 2048);
  const got: ReceivedFrame[] = [];
  const collect = async (n: number, what: string) => waitFor(() => (got.push(...guest.receive()), got.length === n), 2000, what);
  await collect(1, 'the first frame at once');
  clock.advance(999);
  await new Promise((r) => setTimeout(r, 10));
  got.push(...guest.receive());
  assert.is(got.length, 1);
  clock.advance(1);
  await collect(3, 'two frames at 1 s');
  clock.advance(4000);
  await collect(4, 'the last frame at 5 s');
  await backend.close();
});

test.run();
