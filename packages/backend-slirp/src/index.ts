import './register';

export * from './core';
export { SlirpBackend } from './backend';
export type { SlirpBackendOptions } from './backend';
export { NodeSlirpHost } from './node-host';
export type { NodeHostOptions, StackEvents } from './node-host';
export { slirpBackendFactory, registerSlirpBackend } from './factory';
