/**
 * Network namespaces for tests and benchmarks: unique names, veth pairs, moving a tap in, running
 * commands inside, and removal afterwards, even when the test fails or the process dies.
 *
 *   const ns = createNetns('tap');              // `ip netns add netbe-<pid>-<n>-tap`
 *   try {
 *     ns.adopt(tapName);                        // the tap fd stays with us; the interface moves
 *     ns.ip('addr', 'add', '10.0.0.1/24', 'dev', tapName);
 *     ns.ip('link', 'set', tapName, 'up');
 *     ns.exec(pingArgv('10.0.0.2'));
 *   } finally {
 *     ns.destroy();                             // kills what ns.spawn started, deletes the netns
 *   }
 *
 * Why move the interface rather than open the tap inside the namespace: a tap fd belongs to the
 * process that opened it, not to a namespace, so the device keeps reading and writing it after
 * `ip link set NAME netns NS`; the test process itself never has to enter the namespace. When the
 * namespace is deleted, the kernel deletes the virtual interfaces in it (tap, veth).
 *
 * Cleanup: every namespace made here is recorded; an `exit` hook deletes the ones left over, and
 * `createNetns` first sweeps `netbe-<pid>-…` namespaces whose process no longer exists (a test
 * killed by its time limit). Only namespaces whose name starts with `netbe-` are ever touched.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';

const PREFIX = 'netbe-';
const live = new Set<Netns>();
let counter = 0;
let hooked = false;

function run(cmd: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], input, timeout: 30_000 });
  } catch (e) {
    const err = e as { stderr?: string; status?: number };
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${err.status ?? '?'}): ${(err.stderr ?? String(e)).trim()}`);
  }
}

/** Runs `ip ARGS…` in the current namespace; throws with ip's message on failure. */
export function ip(...args: string[]): string {
  return run('ip', args);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes `netbe-<pid>-…` namespaces whose process is gone. Returns how many it deleted. */
export function sweepStaleNetns(): number {
  let names: string[];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return 0;
  }
  let deleted = 0;
  for (const name of names) {
    const m = /^netbe-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    try {
      ip('netns', 'del', name);
      deleted++;
    } catch {
      /* raced with another sweeper */
    }
  }
  return deleted;
}

/** `/proc/sys/…` for a dotted sysctl key (`net.ipv4.ip_forward`); keys must not name dotted interfaces. */
function sysctlPath(key: string): string {
  if (!/^[a-z0-9_.-]+$/i.test(key)) throw new Error(`sysctl key "${key}" has unexpected characters`);
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}

/** Sets a sysctl in the current namespace (no dependency on procps' `sysctl`). */
export function setSysctl(key: string, value: string | number): void {
  writeFileSync(sysctlPath(key), String(value));
}

/** An interface name unique to this process and call, at most 15 bytes: `<tag><pid36><n36>`. */
export function uniqueIfname(tag: string): string {
  const suffix = process.pid.toString(36) + (counter++).toString(36);
  const name = tag.slice(0, Math.max(1, 15 - suffix.length)) + suffix;
  return name.slice(0, 15);
}

export class Netns {
  readonly name: string;
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  constructor(name: string) {
    this.name = name;
  }

  /** `ip -n NAME ARGS…`. */
  ip(...args: string[]): string {
    return ip('-n', this.name, ...args);
  }

  /** Runs `argv` inside the namespace and returns its stdout (throws on a non-zero exit). */
  exec(argv: readonly string[], input?: string): string {
    return run('ip', ['netns', 'exec', this.name, ...argv], input);
  }

  /** Starts `argv` inside the namespace; {@link destroy} kills it if it is still running. */
  spawn(argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, ...argv], { stdio: 'pipe', ...options });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Sets a sysctl inside the namespace (`net.*` keys are per namespace). */
  sysctl(key: string, value: string | number): void {
    this.exec(['sh', '-c', `echo ${String(value).replace(/[^a-z0-9 ]/gi, '')} > ${sysctlPath(key)}`]);
  }

  /** Moves interface `ifname` (from the current namespace) into this one. */
  adopt(ifname: string): void {
    ip('link', 'set', ifname, 'netns', this.name);
  }

  /** Adds `cidr` (e.g. `10.1.2.1/24`) to `ifname` in this namespace and brings it up (and `lo`). */
  configure(ifname: string, cidr: string, options: { mtu?: number } = {}): void {
    this.ip('addr', 'add', cidr, 'dev', ifname);
    if (options.mtu !== undefined) this.ip('link', 'set', ifname, 'mtu', String(options.mtu));
    this.ip('link', 'set', ifname, 'up');
    this.ip('link', 'set', 'lo', 'up');
  }

  /** Kills the children it spawned and deletes the namespace (and so its virtual interfaces). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const child of this.children) child.kill('SIGKILL');
    this.children.clear();
    try {
      ip('netns', 'del', this.name);
    } catch {
      /* already gone */
    }
  }
}

/** Creates a namespace with a unique name; `tag` (letters, digits) helps read `ip netns` output. */
export function createNetns(tag = 'ns'): Netns {
  if (!/^[a-z0-9]{0,12}$/i.test(tag)) throw new Error(`netns tag "${tag}": use up to 12 letters or digits`);
  if (!hooked) {
    hooked = true;
    const destroyAll = (): void => {
      for (const ns of [...live]) ns.destroy();
    };
    process.once('exit', destroyAll);
    // A signal ends the process without 'exit': clean up, then die of the same signal.
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        destroyAll();
        process.kill(process.pid, signal);
      });
    }
    sweepStaleNetns();
  }
  const name = `${PREFIX}${process.pid}-${counter++}-${tag}`;
  ip('netns', 'add', name);
  const ns = new Netns(name);
  live.add(ns);
  return ns;
}

/** Runs `fn` with a fresh namespace and always destroys it afterwards. */
export async function withNetns<T>(tag: string, fn: (ns: Netns) => T | Promise<T>): Promise<T> {
  const ns = createNetns(tag);
  try {
    return await fn(ns);
  } finally {
    ns.destroy();
  }
}

/**
 * Creates a veth pair `a`↔`b` in the current namespace (names from {@link uniqueIfname} when not
 * given). Move either end with `ns.adopt(name)`. Deleting one end deletes both.
 */
export function createVeth(a = uniqueIfname('nbva'), b = uniqueIfname('nbvb')): { a: string; b: string; destroy(): void } {
  ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  return {
    a,
    b,
    destroy(): void {
      try {
        ip('link', 'del', a);
      } catch {
        /* gone with its namespace */
      }
    },
  };
}

/**
 * The argv of one ICMP echo to `target` that waits at most `waitSeconds`: busybox's ping (CI
 * installs busybox-static; iputils may be absent). Exit status 0 when a reply came.
 */
export function pingArgv(target: string, count = 1, waitSeconds = 5): string[] {
  return ['busybox', 'ping', '-c', String(count), '-W', String(waitSeconds), target];
}

/** True when namespaces can be made here (root, `ip` present). */
export function netnsAvailable(): boolean {
  try {
    run('ip', ['netns', 'list']);
    return typeof process.getuid === 'function' && process.getuid() === 0;
  } catch {
    return false;
  }
}
