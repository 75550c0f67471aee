/**
 * A worker thread that plays the VM: connects a {@link VhostUserFrontend} to `socketPath`,
 * pumps one ring with a {@link RingPump}, and posts back the frame rate of each round (a warm-up
 * round first, not reported). Lets a benchmark put the guest side on another core, as QEMU is.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VhostUserFrontend } from './frontend';
import { RingPump } from './ring-pump';

export interface PumpWorkerData {
  socketPath: string;
  ring: number;
  queueSize: number;
  /** TX: the bytes of each chain (header + frame). RX: omit and give `writable`. */
  readable?: Uint8Array;
  writable?: number;
  roundMs: number;
  rounds: number;
}

export interface PumpWorkerResult {
  /** Frames per second, one per measured round. */
  rates: number[];
  error?: string;
}

async function run(d: PumpWorkerData): Promise<PumpWorkerResult> {
  const fe = new VhostUserFrontend({ socketPath: d.socketPath, queueSize: d.queueSize, regionSize: 8 << 20 });
  try {
    await fe.setUp();
    const pump = new RingPump(fe, d.ring, d.readable ? { readable: d.readable } : { writable: d.writable! });
    const rates: number[] = [];
    for (let r = -1; r < d.rounds; r++) {
      let frames = 0;
      const start = performance.now();
      let elapsed = 0;
      do {
        await pump.batch();
        frames += pump.batchSize;
        elapsed = performance.now() - start;
      } while (elapsed < d.roundMs);
      if (r >= 0) rates.push((frames * 1000) / elapsed);
    }
    return { rates };
  } finally {
    fe.close();
  }
}

if (parentPort) {
  run(workerData as PumpWorkerData).then(
    (result) => parentPort!.postMessage(result),
    (e: unknown) => parentPort!.postMessage({ rates: [], error: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies PumpWorkerResult),
  );
}
