export { TestGuest, RX_BASE, TX_BASE } from './test-guest';
export type { GuestOptions, ReceivedFrame, PostOptions } from './test-guest';
export { makeFrame, frameSeq, equalBytes } from './frames';
