/**
 * The Node file adapter (`@netbe/pcap/node`): a {@link ByteSource} and a {@link ByteSink} over
 * files. The rest of the package uses no Node API.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { ByteSource } from './reader';
import type { ByteSink } from './writer';

export interface FileSource extends ByteSource {
  readonly path: string;
  read(into: Uint8Array): Promise<number>;
  close(): Promise<void>;
}

/** Opens `path` for sequential reading. Rejects with the fs error (ENOENT…) when it cannot. */
export async function openFileSource(path: string): Promise<FileSource> {
  const handle: FileHandle = await open(path, 'r');
  let closed = false;
  return {
    path,
    async read(into: Uint8Array): Promise<number> {
      if (closed) return 0;
      const { bytesRead } = await handle.read(into, 0, into.length, null);
      return bytesRead;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

export interface FileSink extends ByteSink {
  readonly path: string;
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Creates (or truncates) `path` for writing. */
export async function openFileSink(path: string, options: { append?: boolean } = {}): Promise<FileSink> {
  const handle: FileHandle = await open(path, options.append ? 'a' : 'w');
  let closed = false;
  return {
    path,
    async write(bytes: Uint8Array): Promise<void> {
      let at = 0;
      while (at < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, at, bytes.length - at);
        at += bytesWritten;
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}
