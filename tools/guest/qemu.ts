/**
 * Boots the test guest under QEMU TCG and follows its serial console. The guest's /init
 * (init.sh) prints "NETBE-GUEST ready", runs the test script, then "NETBE-GUEST done rc=N" and
 * powers off. Scripts report with lines of their own (by convention "NETBE-RESULT key value").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { qemuVhostUserArgs } from '@netbe/vhost-user';
import { initrdWithScript, type GuestImage } from './build-initramfs';

export interface BootOptions {
  image: GuestImage;
  /** The shell script the guest runs as /test.sh (busybox sh). */
  script: string;
  /** Where the per-boot initrd is written. */
  workDir: string;
  /** Attach the NIC to this vhost-user socket (ignored when `nicArgs` is given). */
  vhostUserSocket?: string;
  /** Instead of vhost-user: these NIC arguments (e.g. QEMU's own `-netdev tap`, as a reference). */
  nicArgs?: string[];
  memMiB?: number;
  mac?: string;
  /**
   * Extra properties for the vhost-user virtio-net-pci device, e.g. `guest_csum=off` to keep an
   * offload out of the negotiation (QEMU masks the feature before the driver sees it).
   */
  nicDeviceProperties?: readonly string[];
  /** QEMU retries the back-end after this many seconds when it goes away (chardev reconnect=); 0 off (default). */
  reconnectSeconds?: number;
  /** Called with each console line as it arrives (for logs). */
  onLine?: (line: string) => void;
}

/** `args` with `props` appended to the virtio-net-pci -device value. */
function withDeviceProperties(args: string[], props: readonly string[]): string[] {
  if (props.length === 0) return args;
  const i = args.findIndex((a) => a.startsWith('virtio-net-pci,'));
  if (i < 0) throw new Error('no virtio-net-pci device in the vhost-user arguments');
  const out = args.slice();
  out[i] = [args[i], ...props].join(',');
  return out;
}

export class GuestVm {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private partial = '';
  private waiters: Array<() => void> = [];
  private hasExited = false;

  private constructor(child: ChildProcess, onLine?: (line: string) => void) {
    this.child = child;
    const take = (chunk: Buffer): void => {
      this.partial += chunk.toString('utf8');
      let nl: number;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        const line = this.partial.slice(0, nl).replace(/\r$/, '');
        this.partial = this.partial.slice(nl + 1);
        this.lines.push(line);
        onLine?.(line);
      }
      this.wake();
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.hasExited = true;
        this.wake();
        resolve({ code, signal });
      });
    });
  }

  static boot(o: BootOptions): GuestVm {
    if (!o.nicArgs && !o.vhostUserSocket) throw new Error('GuestVm.boot needs vhostUserSocket or nicArgs');
    const initrd = initrdWithScript(o.image, o.script, join(o.workDir, `initrd-${process.pid}-${Date.now()}.cpio`));
    const args = [
      '-accel', 'tcg',
      '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-nodefaults', '-no-reboot',
      '-kernel', o.image.kernel,
      '-initrd', initrd,
      '-append', 'console=ttyS0 quiet panic=-1',
      ...(o.nicArgs
        ? ['-m', `${o.memMiB ?? 256}M`, ...o.nicArgs]
        : withDeviceProperties(
            qemuVhostUserArgs({ socketPath: o.vhostUserSocket ?? '', memMiB: o.memMiB ?? 256, mac: o.mac, reconnectSeconds: o.reconnectSeconds ?? 0 }),
            o.nicDeviceProperties ?? [],
          )),
    ];
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    return new GuestVm(child, o.onLine);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves with the first console line matching `re` (earlier lines count too). */
  async waitForLine(re: RegExp, ms: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    let scanned = 0;
    for (;;) {
      for (; scanned < this.lines.length; scanned++) {
        const m = re.exec(this.lines[scanned]!);
        if (m) return m;
      }
      if (this.hasExited) throw new Error(`guest exited before printing ${re}; last lines:\n${this.lines.slice(-30).join('\n')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`guest did not print ${re} within ${ms} ms; last lines:\n${this.lines.slice(-30).join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The "NETBE-RESULT key value" lines printed so far, as a map. */
  results(): Map<string, string> {
    const out = new Map<string, string>();
    for (const l of this.lines) {
      const m = /^NETBE-RESULT (\S+) ?(.*)$/.exec(l);
      if (m) out.set(m[1]!, m[2]!);
    }
    return out;
  }

  /** Kills QEMU (SIGKILL: what a crashed front-end looks like to the back-end) and waits. */
  async kill(): Promise<void> {
    if (!this.hasExited) this.child.kill('SIGKILL');
    await this.exited;
  }
}
