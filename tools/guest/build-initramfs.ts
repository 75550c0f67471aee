/**
 * Builds the netbe test guest from Debian packages that are already installed:
 * linux-image-amd64 (kernel + virtio modules), busybox-static (the whole userland) and iperf3
 * (binary + the shared libraries ldd lists). The result is cached under the OS temp directory,
 * keyed by kernel version and by this builder's sources, so a test suite pays for it once.
 *
 *   node --import tsx tools/guest/build-initramfs.ts     prints the kernel and initrd paths
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCpio, type CpioEntry } from './cpio';

const here = dirname(fileURLToPath(import.meta.url));

/** The modules virtio-net needs, in insmod order (init.sh loads them in this order too). */
export const VIRTIO_NET_MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio_pci',
  'failover',
  'net_failover',
  'virtio_net',
] as const;

export interface GuestImage {
  kernel: string;
  initrd: string;
  kernelVersion: string;
}

/** What is missing on this machine to build the guest, or null when it can be built. */
export function guestPrerequisiteProblem(): string | null {
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return 'qemu-system-x86_64 is not installed (Debian package qemu-system-x86)';
  if (!existsSync('/usr/bin/busybox')) return 'busybox is not installed (Debian package busybox-static)';
  if (!findKernel()) return 'no /boot/vmlinuz-* with matching /lib/modules (Debian package linux-image-amd64)';
  return null;
}

function findKernel(): { kernel: string; version: string } | null {
  let names: string[];
  try {
    names = readdirSync('/boot').filter((n) => n.startsWith('vmlinuz-')).sort().reverse();
  } catch {
    return null;
  }
  for (const n of names) {
    const version = n.slice('vmlinuz-'.length);
    if (existsSync(join('/lib/modules', version))) return { kernel: join('/boot', n), version };
  }
  return null;
}

function findModule(version: string, name: string): string | null {
  const out = execFileSync('find', [join('/lib/modules', version, 'kernel'), '-name', `${name}.ko*`], { encoding: 'utf8' }).trim();
  return out ? out.split('\n')[0]! : null;
}

function builtin(version: string, name: string): boolean {
  try {
    return readFileSync(join('/lib/modules', version, 'modules.builtin'), 'utf8')
      .split('\n')
      .some((l) => l.endsWith(`/${name}.ko`));
  } catch {
    return false;
  }
}

/** A module's bytes, decompressed when Debian shipped it as .ko.xz or .ko.zst. */
function moduleBytes(path: string): Uint8Array {
  if (path.endsWith('.xz')) return execFileSync('xz', ['-dc', path], { maxBuffer: 64 << 20 });
  if (path.endsWith('.zst')) return execFileSync('zstd', ['-dc', path], { maxBuffer: 64 << 20 });
  return readFileSync(path);
}

/** The shared libraries (and loader) an executable needs, as ldd prints them. */
function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

class Tree {
  readonly entries: CpioEntry[] = [];
  private readonly dirs = new Set<string>(['']);

  dir(path: string): void {
    const parts = path.split('/').filter(Boolean);
    let p = '';
    for (const part of parts) {
      p += '/' + part;
      if (!this.dirs.has(p)) {
        this.dirs.add(p);
        this.entries.push({ kind: 'dir', path: p });
      }
    }
  }

  file(path: string, data: Uint8Array, mode = 0o644): void {
    this.dir(dirname(path));
    this.entries.push({ kind: 'file', path, data, mode });
  }

  symlink(path: string, target: string): void {
    this.dir(dirname(path));
    this.entries.push({ kind: 'symlink', path, target });
  }
}

function buildArchive(version: string): Uint8Array {
  const t = new Tree();
  for (const d of ['/dev', '/proc', '/sys', '/tmp', '/run', '/etc', '/root', '/bin', '/sbin', '/usr/bin', '/usr/sbin']) t.dir(d);
  // The kernel opens /dev/console before /init runs; devtmpfs is mounted only later.
  t.entries.push({ kind: 'chardev', path: '/dev/console', major: 5, minor: 1 });
  t.entries.push({ kind: 'chardev', path: '/dev/null', major: 1, minor: 3, mode: 0o666 });
  t.file('/bin/busybox', readFileSync('/usr/bin/busybox'), 0o755);
  const applets = execFileSync('/usr/bin/busybox', ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) {
    const path = '/' + a;
    if (path === '/bin/busybox') continue;
    t.symlink(path, '/bin/busybox');
  }
  t.file('/init', readFileSync(join(here, 'init.sh')), 0o755);
  t.file('/etc/passwd', new TextEncoder().encode('root:x:0:0:root:/root:/bin/sh\n'));
  t.file('/etc/group', new TextEncoder().encode('root:x:0:\n'));
  t.file('/etc/hosts', new TextEncoder().encode('127.0.0.1 localhost\n'));
  for (const m of VIRTIO_NET_MODULES) {
    const path = findModule(version, m);
    if (path) t.file(`/lib/modules/netbe/${m}.ko`, moduleBytes(path));
    else if (!builtin(version, m)) throw new Error(`kernel ${version}: module ${m} is neither a module file nor built in`);
  }
  if (existsSync('/usr/bin/iperf3')) {
    t.file('/usr/bin/iperf3', readFileSync('/usr/bin/iperf3'), 0o755);
    for (const lib of sharedLibraries('/usr/bin/iperf3')) t.file(lib, readFileSync(lib), 0o755);
  }
  return writeCpio(t.entries);
}

/** Builds (or reuses from the cache) the guest kernel + initramfs. */
export function buildGuestImage(cacheRoot = join(tmpdir(), 'netbe-guest')): GuestImage {
  const k = findKernel();
  if (!k) throw new Error('no kernel: install linux-image-amd64 (needs /boot/vmlinuz-* and /lib/modules/<version>)');
  const key = createHash('sha256')
    .update(k.version)
    .update(readFileSync(join(here, 'init.sh')))
    .update(readFileSync(join(here, 'build-initramfs.ts')))
    .update(readFileSync(join(here, 'cpio.ts')))
    .digest('hex')
    .slice(0, 16);
  const dir = join(cacheRoot, key);
  const initrd = join(dir, 'initrd.cpio');
  if (!existsSync(initrd)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${initrd}.${process.pid}.tmp`;
    writeFileSync(tmp, buildArchive(k.version));
    renameSync(tmp, initrd);
  }
  return { kernel: k.kernel, initrd, kernelVersion: k.version };
}

/**
 * The base initramfs with `script` appended as /test.sh (a second cpio archive: the kernel
 * unpacks concatenated archives in order). Returns the path of the combined file.
 */
export function initrdWithScript(image: GuestImage, script: string, outPath: string): string {
  const base = readFileSync(image.initrd);
  const extra = writeCpio([{ kind: 'file', path: '/test.sh', data: new TextEncoder().encode(script), mode: 0o755 }]);
  const out = new Uint8Array(base.length + extra.length);
  out.set(base, 0);
  out.set(extra, base.length);
  writeFileSync(outPath, out);
  return outPath;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const img = buildGuestImage();
  console.log(`kernel ${img.kernel}\ninitrd ${img.initrd}`);
}
