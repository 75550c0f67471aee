/**
 * Runs the real `netbe` command (packages/cli/bin/netbe.mjs) as a child process for the e2e
 * tests, collecting its output lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@netbe/test-utils';

export const NETBE_BIN = fileURLToPath(new URL('../../cli/bin/netbe.mjs', import.meta.url));

export class NetbeProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  exitCode: number | null = null;
  readonly exited: Promise<number | null>;

  /** `asUser`: run as this uid/gid through setpriv (to show that no privilege is needed). */
  constructor(args: readonly string[], o: { asUser?: number } = {}) {
    const argv = [process.execPath, NETBE_BIN, ...args];
    if (o.asUser !== undefined) argv.unshift('setpriv', `--reuid=${o.asUser}`, `--regid=${o.asUser}`, '--clear-groups');
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    const take = (d: Buffer): void => {
      partial += d.toString('utf8');
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        this.lines.push(line);
        if (process.env.NETBE_E2E_VERBOSE) console.log(`[netbe] ${line}`);
      }
    };
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Waits for a line matching `re`; fails early with the output if the process exits. */
  async waitForLine(re: RegExp, ms: number): Promise<string> {
    let found: string | undefined;
    await waitFor(
      () => {
        found = this.lines.find((l) => re.test(l));
        if (!found && this.exitCode !== null) throw new Error(`netbe exited (${this.exitCode}) before printing ${re}:\n${this.lines.join('\n')}`);
        return found !== undefined;
      },
      ms,
      `netbe output ${re}`,
      20,
    );
    return found!;
  }

  /** SIGTERM, then the exit status. */
  async stop(): Promise<number | null> {
    if (this.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}
