/** The benchmark drivers: RingPump on this thread and in the worker, against a sink/source. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend, type NetBackend } from '@netbe/core';
import '@netbe/backend-memory';
import { VirtioNetDevice } from '@netbe/virtio-net';
import { withTimeout } from '@netbe/test-utils';
import { VhostUserNetDevice, VhostUserServer } from '../src/index';
import { PUMP_WORKER_URL, RingPump, VhostUserFrontend, type PumpWorkerData, type PumpWorkerResult } from '../src/testing/index';

async function rig(spec: string): Promise<{ socketPath: string; backend: NetBackend; net: VirtioNetDevice; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'netbe-pump-'));
  const socketPath = join(dir, 'vu.sock');
  const backend = await createBackend(spec);
  const net = new VirtioNetDevice({ backend, mac: '52:54:00:00:00:02', queueSize: 256 });
  const server = VhostUserServer.listen({ socketPath, device: new VhostUserNetDevice(net) });
  return {
    socketPath,
    backend,
    net,
    async close() {
      await server.close();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('RingPump: TX batches reach the sink, RX batches are filled by the source', async () => {
  const tx = await rig('memory,mode=sink');
  const fe = new VhostUserFrontend({ socketPath: tx.socketPath, queueSize: 256 });
  try {
    await fe.setUp();
    const pump = new RingPump(fe, 1, { readable: new Uint8Array(12 + 64) });
    for (let i = 0; i < 3; i++) await withTimeout(5000, pump.batch(), 'a TX batch');
    assert.is(tx.backend.stats.txFrames, 3 * 256);
  } finally {
    fe.close();
    await tx.close();
  }
  const rx = await rig('memory,mode=source,size=64');
  const fe2 = new VhostUserFrontend({ socketPath: rx.socketPath, queueSize: 256 });
  try {
    await fe2.setUp();
    const pump = new RingPump(fe2, 0, { writable: 2048 });
    for (let i = 0; i < 3; i++) await withTimeout(5000, pump.batch(), 'an RX batch');
    assert.is(rx.net.stats.rx.frames, 3 * 256);
  } finally {
    fe2.close();
    await rx.close();
  }
});

test('the pump worker plays the VM from another thread', async () => {
  const r = await rig('memory,mode=sink');
  try {
    const data: PumpWorkerData = { socketPath: r.socketPath, ring: 1, queueSize: 256, readable: new Uint8Array(12 + 64), roundMs: 30, rounds: 2 };
    const worker = new Worker(PUMP_WORKER_URL, { workerData: data });
    const result = await withTimeout(
      30_000,
      new Promise<PumpWorkerResult>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      }),
      'the worker',
    );
    await worker.terminate();
    assert.is(result.error, undefined, result.error);
    assert.is(result.rates.length, 2);
    assert.ok(result.rates.every((x) => x > 0));
    assert.ok(r.backend.stats.txFrames >= 3 * 256, `${r.backend.stats.txFrames} frames`);
  } finally {
    await r.close();
  }
});

test.run();
