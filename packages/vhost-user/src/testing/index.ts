export { VhostUserFrontend } from './frontend';
export type { VhostUserFrontendOptions, SetUpOptions } from './frontend';
export { RingPump } from './ring-pump';
export type { PumpWorkerData, PumpWorkerResult } from './pump-worker';

/** The module a `new Worker(…)` runs to play the VM on another thread (see pump-worker.ts). */
export const PUMP_WORKER_URL = new URL('./pump-worker-entry.mjs', import.meta.url);
