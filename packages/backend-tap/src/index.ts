import './register';

export { TapBackend } from './tap-backend';
export { createTapBackend, tapBackendFactory, registerTapBackend } from './factory';
export { parseTapConfig, checkIfname, IFNAME_MAX } from './options';
export type { TapOptions } from './options';
export { TAP_VNET_CAPS, tunOffloadFlags } from './offload';
