/**
 * A writer for the "newc" cpio format (the one the Linux kernel unpacks as an initramfs,
 * Documentation/driver-api/early-userspace/buffer-format.rst). Written here rather than calling
 * `cpio` so device nodes (/dev/console) can be added without root and the archive is
 * byte-for-byte reproducible (fixed mtime, inode numbers in order).
 */

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Uint8Array; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

const encoder = new TextEncoder();

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** Serialises `entries` (parents before children) followed by the TRAILER!!! record. */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const push = (bytes: Uint8Array): void => {
    chunks.push(bytes);
    size += bytes.length;
    const pad = (4 - (size % 4)) % 4;
    if (pad) {
      chunks.push(new Uint8Array(pad));
      size += pad;
    }
  };
  let ino = 1;
  const record = (path: string, mode: number, data: Uint8Array, rdevMajor = 0, rdevMinor = 0, nlink = 1): void => {
    const name = encoder.encode(path.replace(/^\/+/, '') + '\0');
    const header =
      '070701' +
      [ino++, mode, 0, 0, nlink, 0, data.length, 0, 0, rdevMajor, rdevMinor, name.length, 0].map(hex8).join('');
    // The header (110 bytes) and the name are padded together to a multiple of 4, then the data.
    const head = new Uint8Array(header.length + name.length);
    head.set(encoder.encode(header), 0);
    head.set(name, header.length);
    push(head);
    if (data.length) push(data);
  };
  for (const e of entries) {
    switch (e.kind) {
      case 'dir':
        record(e.path, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0), 0, 0, 2);
        break;
      case 'file':
        record(e.path, S_IFREG | (e.mode ?? 0o644), e.data);
        break;
      case 'symlink':
        record(e.path, S_IFLNK | 0o777, encoder.encode(e.target));
        break;
      case 'chardev':
        record(e.path, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(0), e.major, e.minor);
        break;
    }
  }
  record('TRAILER!!!', 0, new Uint8Array(0));
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
