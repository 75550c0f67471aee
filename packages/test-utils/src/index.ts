export { withTimeout, sleep, waitFor } from './timeout';
export { assertRejects } from './rejects';
export { underCI, isRoot, hasDevice, hasCommand, fileExists, prerequisite, testWhen } from './prerequisites';
export type { Prerequisite } from './prerequisites';
