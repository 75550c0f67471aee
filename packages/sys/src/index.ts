export { sys, isSysError } from './binding';
export type { SysBinding, SysError, RecvmsgResult, FileStat, Watcher, WatcherCallback, IcmpRecvResult, IcmpErrorResult } from './binding';
