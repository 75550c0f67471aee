/**
 * slirp-tcp: the user-mode network serving a network namespace, as slirp4netns and pasta do,
 * against both of them in the same run and the same topology:
 *
 *   guest ns ──(tap)── NAT process in the "host" ns ──veth── "server" ns (iperf3, 10.91.0.2)
 *
 * netbe serves its guest namespace with `netbe patch tap,ifname=… slirp,mtu=…` (the tap is made
 * by netbe in the host namespace, then moved into the guest's), slirp4netns (libslirp) and pasta
 * attach to their own guest namespaces from the host namespace. Every address is one made here;
 * nothing leaves the machine. Cases, each reported once against slirp4netns and once against pasta:
 *
 * - tcp-up-MTU / tcp-down-MTU: iperf3 guest → server / server → guest (`-R`), MTU 1500 and 65520.
 * - crr: TCP connection set-up rate (connect, 1 byte each way, close; sequential), MTU 1500.
 * - rr: round-trip latency, 1 byte each way on one connection (µs, lower is better), MTU 1500.
 *
 * The plain veth between host and server namespaces is reported too (`veth-up`, `veth-down`).
 * Rounds alternate the three tools so machine load hits them alike; medians are reported.
 * `NETBE_BENCH_ROUNDS` (default 2) and `NETBE_BENCH_TCP_SECONDS` (default 3) trade time for
 * steadier numbers. `NETBE_BENCH_CASES=tcp-down-1500,tcp-up-65520` runs only the named cases
 * (`crr`, `rr`, `veth` are names too); `NETBE_BENCH_TOOLS=netbe` leaves the references out;
 * `NETBE_BENCH_PROF=DIR` runs the netbe process under `--cpu-prof` writing its profile to DIR. Needs root, /dev/net/tun, iproute2, iperf3, slirp4netns and pasta; a missing
 * reference tool is noted and its comparisons skipped.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createNetns, createVeth, uniqueIfname, type Netns } from '../tools/netns';
import type { Harness } from './harness';

const SERVER_IP = '10.91.0.2';
const ECHO_PORT = 5301;
const NETBE = fileURLToPath(new URL('../packages/cli/bin/netbe.mjs', import.meta.url));
const NETBE_SRC = fileURLToPath(new URL('../packages/cli/src/main.ts', import.meta.url));

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `child` prints a line matching `re` (stdout or stderr), or fails after `ms`. */
function waitOutput(child: ChildProcess, re: RegExp, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${out.slice(-500)}`)), ms);
    const on = (d: Buffer): void => {
      out += d.toString();
      if (re.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited ${code}: ${out.slice(-500)}`));
    });
  });
}

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

/** Runs `argv` in `ns` to its end and returns stdout; throws with stderr on a non-zero exit. */
function run(ns: Netns, argv: string[], timeoutMs: number): Promise<string> {
  const child = ns.spawn(argv);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv[0]} timed out: ${err.slice(-300)}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ').slice(0, 80)} exited ${code}: ${(err || out).slice(-400)}`));
    });
  });
}

async function iperf(guest: Netns, seconds: number, reverse: boolean): Promise<number> {
  const json = await run(guest, ['iperf3', '-c', SERVER_IP, '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])], (seconds + 20) * 1000);
  const r = JSON.parse(json) as { end: { sum_received: { bits_per_second: number } } };
  return r.end.sum_received.bits_per_second / 1e9;
}

/** Node one-liners run inside the guest namespace: connection rate and round-trip time. */
const CRR = (ms: number): string => `
  const net = require('node:net'); const end = Date.now() + ${ms}; let n = 0; const t0 = Date.now();
  const one = () => { if (Date.now() > end) { console.log(JSON.stringify({ perSec: n / ((Date.now() - t0) / 1000) })); return; }
    const s = net.connect(${ECHO_PORT}, '${SERVER_IP}', () => s.write('x'));
    s.once('data', () => { n++; s.destroy(); setImmediate(one); }); s.on('error', (e) => { console.error(e.message); process.exit(2); }); };
  one();`;
const RR = (ms: number): string => `
  const net = require('node:net'); const s = net.connect(${ECHO_PORT}, '${SERVER_IP}'); s.setNoDelay(true);
  s.on('connect', () => { const end = Date.now() + ${ms}; let n = 0; const t0 = process.hrtime.bigint();
    s.on('data', () => { n++; if (Date.now() < end) s.write('x'); else { const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
      console.log(JSON.stringify({ us })); s.destroy(); } }); s.write('x'); });
  s.on('error', (e) => { console.error(e.message); process.exit(2); });`;
const ECHO_SERVER = `require('node:net').createServer((s) => { s.setNoDelay(true); s.on('data', (d) => s.write(d)); s.on('error', () => {}); })
  .listen(${ECHO_PORT}, '${SERVER_IP}', () => console.log('listening'));`;

type Tool = 'netbe' | 'slirp4netns' | 'pasta';

interface GuestPath {
  tool: Tool;
  mtu: number;
  guest: Netns;
  proc: ChildProcess;
}

/** Starts one tool serving a fresh guest namespace at `mtu`, from inside the host namespace. */
async function startPath(tool: Tool, mtu: number, host: Netns): Promise<GuestPath> {
  const guest = createNetns(tool === 'netbe' ? 'gnb' : tool === 'pasta' ? 'gpa' : 'gsl');
  let proc: ChildProcess;
  try {
    if (tool === 'netbe') {
      const ifname = uniqueIfname('nbg');
      // Profiling runs the CLI's sources directly (bin/netbe.mjs would profile only its launcher).
      const prof = process.env.NETBE_BENCH_PROF;
      const cli = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, '-C', '@netbe/source', '--import', 'tsx', NETBE_SRC] : [NETBE];
      proc = host.spawn([process.execPath, ...cli, 'patch', `tap,ifname=${ifname}`, `slirp,mtu=${mtu},icmp=off,resolver=127.0.0.1`]);
      await waitOutput(proc, /patched/, 30_000, 'netbe patch');
      host.ip('link', 'set', ifname, 'netns', guest.name);
      guest.configure(ifname, '10.0.2.15/24', { mtu });
      guest.ip('route', 'add', 'default', 'via', '10.0.2.2');
    } else if (tool === 'slirp4netns') {
      proc = host.spawn(['slirp4netns', '--configure', `--mtu=${mtu}`, '--netns-type=path', `/run/netns/${guest.name}`, 'tap0']);
      await waitFor(() => /10\.0\.2\.100/.test(guest.ip('-4', 'addr', 'show')), 20_000, 'slirp4netns configuring tap0');
    } else {
      proc = host.spawn(['pasta', '--runas', '0:0', '--foreground', '--quiet', '--ipv4-only', '--config-net', '--no-map-gw', '--mtu', String(mtu), '--netns', guest.name]);
      await waitFor(() => /10\.90\.0\.1/.test(guest.ip('-4', 'addr', 'show')), 20_000, 'pasta configuring the namespace');
      // pasta assigns the MTU through DHCP/NDP; set the interface's MTU as the others have it.
      const dev = /\d+: (\S+?)[:@].*state UP/.exec(guest.ip('-o', 'link', 'show'))?.[1];
      if (dev && dev !== 'lo') guest.ip('link', 'set', dev, 'mtu', String(mtu));
    }
  } catch (e) {
    guest.destroy();
    throw e;
  }
  return { tool, mtu, guest, proc };
}

async function stopPath(p: GuestPath): Promise<void> {
  if (p.proc.exitCode === null) {
    const exited = new Promise<void>((r) => p.proc.once('exit', () => r()));
    p.proc.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
  }
  p.guest.destroy();
}

export default async function slirpTcp(h: Harness): Promise<void> {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !have('ip') || !have('iperf3')) {
    h.note('skipped: needs root, /dev/net/tun, iproute2 and iperf3');
    return;
  }
  const wanted = process.env.NETBE_BENCH_CASES?.split(',').map((c) => c.trim()).filter(Boolean);
  const want = (name: string): boolean => !wanted || wanted.includes(name);
  const onlyTools = process.env.NETBE_BENCH_TOOLS?.split(',').map((c) => c.trim());
  const tools: Tool[] = ['netbe'];
  for (const t of ['slirp4netns', 'pasta'] as const) {
    if (onlyTools && !onlyTools.includes(t)) continue;
    if (have(t)) tools.push(t);
    else h.note(`${t} is not installed: comparisons against it skipped`);
  }
  const seconds = Math.max(1, Math.round(Number(process.env.NETBE_BENCH_TCP_SECONDS ?? 3)));
  const rounds = Math.max(1, Math.min(5, Number(process.env.NETBE_BENCH_ROUNDS ?? 2)));
  const host = createNetns('host');
  const server = createNetns('srv');
  const paths: GuestPath[] = [];
  try {
    const veth = createVeth();
    host.adopt(veth.a);
    server.adopt(veth.b);
    host.configure(veth.a, '10.90.0.1/24');
    server.configure(veth.b, '10.90.0.2/24');
    server.ip('addr', 'add', `${SERVER_IP}/32`, 'dev', 'lo');
    host.ip('route', 'add', 'default', 'via', '10.90.0.2');
    const iperfServer = server.spawn(['iperf3', '-s', '--forceflush', '-B', SERVER_IP]);
    await waitOutput(iperfServer, /listening/, 10_000, 'iperf3 server');
    const echo = server.spawn([process.execPath, '-e', ECHO_SERVER]);
    await waitOutput(echo, /listening/, 10_000, 'echo server');

    // The reference path without any NAT process: host namespace straight over the veth.
    const vethUp: number[] = [];
    const vethDown: number[] = [];
    if (want('veth')) {
      for (let r = 0; r < rounds; r++) {
        vethUp.push(await iperf(host, seconds, false));
        vethDown.push(await iperf(host, seconds, true));
      }
      const vethRef = { name: 'iperf3 over the veth itself', value: median(vethUp), unit: 'Gbit/s' as const };
      h.report('veth-up', median(vethUp), 'Gbit/s', vethRef);
      h.report('veth-down', median(vethDown), 'Gbit/s', { ...vethRef, value: median(vethDown) });
    }

    for (const mtu of [1500, 65520]) {
      const runUp = want(`tcp-up-${mtu}`);
      const runDown = want(`tcp-down-${mtu}`);
      const runCrr = mtu === 1500 && want('crr');
      const runRr = mtu === 1500 && want('rr');
      if (!runUp && !runDown && !runCrr && !runRr) continue;
      const live: GuestPath[] = [];
      for (const t of tools) {
        try {
          const p = await startPath(t, mtu, host);
          paths.push(p);
          live.push(p);
        } catch (e) {
          h.note(`${t} at MTU ${mtu} could not start: ${(e as Error).message}`);
        }
      }
      const results = new Map<string, number[]>();
      const add = (key: string, v: number): void => {
        results.set(key, [...(results.get(key) ?? []), v]);
      };
      for (let r = 0; r < rounds; r++) {
        for (const p of live) {
          for (const reverse of [false, true]) {
            if (!(reverse ? runDown : runUp)) continue;
            try {
              add(`${p.tool}/${reverse ? 'down' : 'up'}`, await iperf(p.guest, seconds, reverse));
            } catch (e) {
              h.note(`${p.tool} MTU ${mtu} ${reverse ? 'down' : 'up'}: ${(e as Error).message}`);
            }
          }
          if (runCrr || runRr) {
            try {
              if (runCrr) add(`${p.tool}/crr`, (JSON.parse(await run(p.guest, [process.execPath, '-e', CRR(2000)], 30_000)) as { perSec: number }).perSec);
              if (runRr) add(`${p.tool}/rr`, (JSON.parse(await run(p.guest, [process.execPath, '-e', RR(2000)], 30_000)) as { us: number }).us);
            } catch (e) {
              h.note(`${p.tool} crr/rr: ${(e as Error).message}`);
            }
          }
        }
      }
      type Case = [key: string, name: string, unit: 'Gbit/s' | 'conn/s' | 'us'];
      const cases: Case[] = [
        ['up', `tcp-up-${mtu}`, 'Gbit/s'],
        ['down', `tcp-down-${mtu}`, 'Gbit/s'],
      ];
      if (mtu === 1500) cases.push(['crr', 'crr', 'conn/s'], ['rr', 'rr', 'us']);
      for (const [key, name, unit] of cases) {
        const ours = results.get(`netbe/${key}`);
        if (!ours) continue;
        for (const ref of tools.slice(1)) {
          const theirs = results.get(`${ref}/${key}`);
          if (!theirs) continue;
          h.report(`${name}/vs-${ref}`, median(ours), unit, { name: ref, value: median(theirs), unit });
        }
        if (tools.length === 1) h.report(name, median(ours), unit, { name: 'veth', value: unit === 'Gbit/s' ? median(key === 'up' ? vethUp : vethDown) : 0, unit });
      }
      for (const p of live) await stopPath(p);
    }
  } finally {
    for (const p of paths) await stopPath(p);
    host.destroy();
    server.destroy();
  }
}
