export { main, USAGE } from './main';
export type { Io } from './main';
export { startServe, DEFAULT_BACKEND } from './serve';
export type { ServeOptions, RunningNic } from './serve';
export { listBackends } from './backends-command';
export { loadBackends, BACKEND_PACKAGES } from './load-backends';
export { statsLine, sample } from './stats-line';
export { UsageError } from './usage-error';
