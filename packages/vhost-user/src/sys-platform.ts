import { sys } from '@netbe/sys';
import type { FdWatch, MappedMemory, VhostUserPlatform } from './platform';

/** {@link VhostUserPlatform} over the @netbe/sys addon (Linux). */
export const sysPlatform: VhostUserPlatform = {
  pageSize: sys.PAGE_SIZE,
  fileSize(fd) {
    return sys.fstat(fd).size;
  },
  mapShared(fd, offset, length): MappedMemory {
    const buffer = sys.mmap(fd, offset, length, { write: true, shared: true });
    return {
      bytes: new Uint8Array(buffer),
      // munmap detaches the ArrayBuffer: a stale view reads nothing instead of faulting.
      unmap: () => void sys.munmap(buffer),
    };
  },
  setNonBlocking(fd) {
    sys.setNonBlocking(fd, true);
  },
  close(fd) {
    sys.close(fd);
  },
  watchReadable(fd, onReadable, onError): FdWatch {
    const w = sys.watcherCreate(fd, (error) => {
      if (error) onError(error);
      else onReadable();
    });
    sys.watcherStart(w, sys.READABLE);
    return { stop: () => sys.watcherClose(w) };
  },
  drainEventfd(fd) {
    return sys.eventfdRead(fd) > 0;
  },
  signalEventfd(fd) {
    sys.eventfdWrite(fd, 1);
  },
  createEventfd() {
    return sys.eventfdCreate(0);
  },
};
