/**
 * vhost-user: frames through the whole socket transport. The front-end is the test double of
 * @netbe/vhost-user/testing (guest RAM in a memfd, kick and call eventfds, the QEMU set-up
 * sequence over the unix socket); the back-end is a VhostUserServer with the virtio-net device
 * on a memory backend: `sink` for guest TX, `source` for guest RX. One queue pair, ring size 1024.
 *
 * One batch = the driver makes a full ring of chains available (one avail->idx store), kicks
 * once through the eventfd, and waits for the interrupt on the call eventfd that says the
 * device used them all: the real kick -> drain -> publish -> interrupt loop, with both sides on
 * this one thread (so the figure includes the driver's work and two event-loop turns per batch).
 *
 * The "2threads" cases put the front-end in a worker thread (the back-end keeps this thread),
 * closer to a VM whose vCPU runs elsewhere; the rates are the worker's, over the same rounds.
 *
 * Reference: memcpy of the same frame bytes, measured in this run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createBackend, type NetBackend } from '@netbe/core';
import '@netbe/backend-memory';
import { VirtioNetDevice } from '@netbe/virtio-net';
import { VhostUserNetDevice, VhostUserServer } from '@netbe/vhost-user';
import { PUMP_WORKER_URL, RingPump, VhostUserFrontend, type PumpWorkerData, type PumpWorkerResult } from '@netbe/vhost-user/testing';
import type { Harness, Measurement } from './harness';

const QUEUE = 1024;
const HDR = 12;
const RX = 0;
const TX = 1;

interface Rig {
  socketPath: string;
  backend: NetBackend;
  close(): Promise<void>;
}

/** The back-end: server + virtio-net device + memory backend, on this thread. */
async function backEnd(backendSpec: string): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'netbe-bench-vu-'));
  const socketPath = join(dir, 'vu.sock');
  const backend = await createBackend(backendSpec);
  const net = new VirtioNetDevice({ backend, mac: '52:54:00:00:00:01', queueSize: QUEUE });
  const server = VhostUserServer.listen({ socketPath, device: new VhostUserNetDevice(net) });
  return {
    socketPath,
    backend,
    async close() {
      await server.close();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Case {
  name: string;
  backend: string;
  ring: number;
  chain: { readable?: Uint8Array; writable?: number };
  frameBytes: number;
}

/** Both sides on this thread: the harness measures batches of the pump. */
async function oneThread(h: Harness, c: Case, ref: Measurement): Promise<void> {
  const rig = await backEnd(c.backend);
  const fe = new VhostUserFrontend({ socketPath: rig.socketPath, queueSize: QUEUE, regionSize: 8 << 20 });
  try {
    await fe.setUp();
    const pump = new RingPump(fe, c.ring, c.chain);
    const m = await h.measureAsync(() => pump.batch(), pump.batchSize, { bytesPerOp: c.frameBytes });
    h.reportBoth(c.name, m, 'memcpy', ref);
  } finally {
    fe.close();
    await rig.close();
  }
}

const envNumber = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

/** The guest side in a worker thread (its own core, as QEMU would be); same rounds as the harness. */
async function twoThreads(h: Harness, c: Case, ref: Measurement): Promise<void> {
  const rig = await backEnd(c.backend);
  try {
    const data: PumpWorkerData = {
      socketPath: rig.socketPath,
      ring: c.ring,
      queueSize: QUEUE,
      ...c.chain,
      roundMs: envNumber('NETBE_BENCH_MS', 300),
      rounds: envNumber('NETBE_BENCH_ROUNDS', 5),
    };
    const worker = new Worker(PUMP_WORKER_URL, { workerData: data });
    const result = await new Promise<PumpWorkerResult>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    if (result.error) throw new Error(`front-end worker: ${result.error}`);
    const rates = [...result.rates].sort((a, b) => a - b);
    const mid = rates.length >> 1;
    const opsPerSec = rates.length % 2 ? rates[mid]! : (rates[mid - 1]! + rates[mid]!) / 2;
    h.reportBoth(`${c.name}/2threads`, { opsPerSec, bytesPerSec: opsPerSec * c.frameBytes }, 'memcpy', ref);
  } finally {
    await rig.close();
  }
}

export default async function (h: Harness): Promise<void> {
  h.note(`front-end: the test double over a memfd and eventfds; ring size ${QUEUE}; one queue pair; "2threads": the front-end in a worker thread`);
  for (const size of (process.env.NETBE_VU_SIZES ?? '64,1500').split(',').map(Number)) {
    const packet = new Uint8Array(HDR + size);
    packet.fill(0x5a, HDR);
    packet.fill(0xff, HDR, HDR + 6);
    const cases: Case[] = [
      { name: `tx-${size}`, backend: 'memory,mode=sink', ring: TX, chain: { readable: packet }, frameBytes: size },
      { name: `rx-${size}`, backend: `memory,mode=source,size=${size}`, ring: RX, chain: { writable: 2048 }, frameBytes: size },
    ];
    const ref = h.memcpy(size);
    for (const c of cases) await oneThread(h, c, ref);
    for (const c of cases) await twoThreads(h, c, ref);
  }
}
