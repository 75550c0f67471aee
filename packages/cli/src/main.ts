/**
 * The `netbe` command line: `netbe serve …`, `netbe patch …`, `netbe backends`, `netbe help`.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { listBackends } from './backends-command';
import { DEFAULT_BUSY_POLL_US } from './busy-poll';
import { startPatch } from './patch';
import { DEFAULT_BACKEND, startServe } from './serve';
import { UsageError } from './usage-error';

export const USAGE = `Usage:
  netbe serve --vhost-user PATH [--backend SPEC] [--mac MAC] [--mtu N] [--stats SECONDS]
              [--capture FILE] [--queue-size N] [--mem MiB]
      Serve one virtio-net NIC on the vhost-user socket PATH, backed by SPEC
      (default: ${DEFAULT_BACKEND}, the user-mode network). Prints the QEMU arguments that attach
      a VM. --stats prints frames/s, bit/s and drops per direction every SECONDS.
      --capture FILE writes both directions to a pcapng file (.pcap: classic pcap) that
      Wireshark opens; capture=FILE inside SPEC does the same.
      Stops cleanly on Ctrl-C (SIGINT) or SIGTERM.
  netbe patch SPEC SPEC [--stats SECONDS] [--busy-poll MICROSECONDS]
      Connect two backends back to back, with no guest: what one receives the other sends
      (e.g. "netbe patch tap:ns0 slirp" gives the namespace behind tap ns0 the user-mode
      network, as slirp4netns and pasta do). Offloads both ends share pass through with a
      virtio-net header; otherwise frames are plain. --stats prints frames/s, bit/s and drops
      per direction every SECONDS. --busy-poll keeps polling for that long after traffic
      instead of sleeping (lower latency for request/response traffic; default ${DEFAULT_BUSY_POLL_US},
      0 turns it off; it stops by itself when other work needs the CPU).
      Stops cleanly on SIGINT or SIGTERM.
  netbe backends
      List the backends, their options and examples.
  netbe help`;

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  stopRequested: Promise<string>;
}

function processIo(): Io {
  const stopRequested = new Promise<string>((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => resolve(s));
  });
  return { out: (l) => console.log(l), err: (l) => console.error(l), stopRequested };
}

function positiveInt(option: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(option, `"${text}" is not a whole number in ${min}..${max}`);
  return Number(text);
}

function parseArgsError(e: unknown): UsageError {
  const message = (e as Error).message;
  const option = /option '(--?[\w-]+)/i.exec(message)?.[1] ?? /'(--?[\w-]+)/.exec(message)?.[1] ?? '';
  if (/^Unknown option/i.test(message)) return new UsageError(option, 'unknown option (see "netbe help")');
  if (/argument missing/i.test(message)) return new UsageError(option, 'needs a value');
  return new UsageError(option, message.replace(/\. To specify a positional.*$/s, ''));
}

function statsOption(text: string | undefined): number | undefined {
  const statsSeconds = text === undefined ? undefined : Number(text);
  if (statsSeconds !== undefined && !(statsSeconds > 0 && statsSeconds <= 3600)) throw new UsageError('--stats', `"${text}" is not a number of seconds in (0, 3600]`);
  return statsSeconds;
}

async function patchCommand(args: string[], io: Io): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: { stats: { type: 'string' }, 'busy-poll': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (e) {
    throw parseArgsError(e);
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError('SPEC', `patch needs exactly two backend specs (got ${positionals.length}), e.g. "netbe patch tap:ns0 slirp"`);
  const statsSeconds = statsOption(values.stats as string | undefined);
  const busyPollUs = values['busy-poll'] === undefined ? undefined : positiveInt('--busy-poll', values['busy-poll'] as string, 0, 1_000_000);
  const patch = await startPatch({ specA: positionals[0]!, specB: positionals[1]!, statsSeconds, busyPollUs, out: io.out, err: io.err });
  const signal = await io.stopRequested;
  io.err(`netbe: ${signal}: shutting down`);
  await patch.stop();
  io.err('netbe: stopped');
  return 0;
}

async function serveCommand(args: string[], io: Io): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        'vhost-user': { type: 'string' },
        backend: { type: 'string' },
        mac: { type: 'string' },
        mtu: { type: 'string' },
        capture: { type: 'string' },
        stats: { type: 'string' },
        'queue-size': { type: 'string' },
        mem: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw parseArgsError(e);
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const statsSeconds = statsOption(values.stats as string | undefined);
  const queueSize = positiveInt('--queue-size', values['queue-size'] as string | undefined, 1, 32768);
  if (queueSize !== undefined && (queueSize & (queueSize - 1)) !== 0) throw new UsageError('--queue-size', `${queueSize} is not a power of two`);
  const nic = await startServe({
    socketPath: (values['vhost-user'] as string | undefined) ?? '',
    backend: values.backend as string | undefined,
    mac: values.mac as string | undefined,
    mtu: values.mtu as string | undefined,
    capture: values.capture as string | undefined,
    statsSeconds,
    queueSize,
    memMiB: positiveInt('--mem', values.mem as string | undefined, 16, 1 << 20),
    out: io.out,
    err: io.err,
  });
  const signal = await io.stopRequested;
  io.err(`netbe: ${signal}: shutting down`);
  await nic.stop();
  io.err('netbe: stopped');
  return 0;
}

/** Runs the command; returns the exit status (0 ok, 2 usage error, 1 failure). */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serveCommand(rest, io);
      case 'patch':
        return await patchCommand(rest, io);
      case 'backends':
        await listBackends(io.out);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError('', `unknown command "${command}" (commands: serve, patch, backends, help)`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`netbe: ${e.message}`);
      return 2;
    }
    io.err(`netbe: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // Exit explicitly: a backend or a watcher left open must not keep a stopped server alive.
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
