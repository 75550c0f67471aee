export { VhostUserFrontend } from './frontend';
export type { VhostUserFrontendOptions, SetUpOptions } from './frontend';
