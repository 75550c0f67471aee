/**
 * The netbe command: usage errors in plain words naming the option, `backends`, and `serve`
 * end to end with the vhost-user test double as the VM (stats line, SIGTERM).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor, withTimeout } from '@netbe/test-utils';
import { VhostUserFrontend } from '@netbe/vhost-user/testing';
import { main, type Io } from '../src/index';

const BIN = fileURLToPath(new URL('../bin/netbe.mjs', import.meta.url));

function io(): Io & { lines: string[]; stop: (s: string) => void } {
  const lines: string[] = [];
  let stop!: (s: string) => void;
  const stopRequested = new Promise<string>((r) => {
    stop = r;
  });
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l), stopRequested, stop };
}

let dir = '';
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'netbe-cli-'));
});
test.after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('usage errors name the option and exit with 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['serve'], /--vhost-user: a socket path is required/],
    [['serve', '--vhost-user', join(dir, 'a.sock'), '--backend', 'nosuch'], /--backend: no backend is called "nosuch"/],
    [['serve', '--vhost-user', join(dir, 'a.sock'), '--backend', 'memory', '--mtu', '12'], /--mtu: 12 is outside 46..65535/],
    [['serve', '--vhost-user', join(dir, 'a.sock'), '--backend', 'memory', '--mac', 'zz'], /--mac: "zz" is not a MAC address/],
    [['serve', '--vhost-user', join(dir, 'a.sock'), '--backend', 'memory,mode=bogus'], /--backend: mode:/],
    [['serve', '--vhost-user', join(dir, 'a.sock'), '--backend', 'memory,mtu=1400', '--mtu', '1500'], /--mtu: "1500" differs from mtu=1400/],
    [['serve', '--vhost-user', join(dir, 'a b.sock'), '--backend', 'memory'], /--vhost-user: .* comma or a space/],
    [['serve', '--vhost-user', join(dir, 'a.sock'), '--backend', 'memory', '--stats', '0'], /--stats: "0"/],
    [['serve', '--frobnicate'], /--frobnicate: unknown option/],
    [['serve', '--mac'], /--mac: needs a value/],
    [['launch'], /unknown command "launch"/],
  ];
  for (const [argv, re] of cases) {
    const x = io();
    const code = await main(argv, x);
    assert.is(code, 2, `${argv.join(' ')} -> ${x.lines.join(' / ')}`);
    assert.match(x.lines.join('\n'), re);
    assert.ok(x.lines.every((l) => !/\n\s+at /.test(l)), 'no stack traces');
  }
});

test('the default backend is the user-mode network; without it the message says what to do', async () => {
  const x = io();
  let code: number | undefined;
  const running = main(['serve', '--vhost-user', join(dir, 'd.sock')], x).then((c) => {
    code = c;
  });
  await waitFor(() => code !== undefined || x.lines.some((l) => /serving one virtio-net NIC/.test(l)), 30_000, 'serve to start or fail');
  const text = x.lines.join('\n');
  if (code === 2) {
    assert.match(text, /default backend is the user-mode network "slirp"/);
    assert.match(text, /--backend/);
  } else {
    // slirp is installed: serve started with it; stop it like Ctrl-C does.
    assert.match(text, /backend slirp\)/);
    x.stop('SIGINT');
    await withTimeout(10_000, running, 'serve stopping');
    assert.is(code, 0);
  }
});

test('netbe backends lists every backend with its options and examples', async () => {
  const x = io();
  assert.is(await main(['backends'], x), 0);
  const text = x.lines.join('\n');
  assert.match(text, /\n  memory\n/);
  assert.match(text, /mode=…/);
  assert.match(text, /example: --backend memory,mode=sink/);
  assert.match(text, /mac=…/);
});

/** Runs bin/netbe.mjs with `args`, collecting its output lines (stdout and stderr). */
function startNetbe(args: string[]): { child: ChildProcess; lines: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const take = (d: Buffer): void => void lines.push(...d.toString().split('\n').filter(Boolean));
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  return { child, lines, exited };
}

test('netbe serve through bin/netbe.mjs: QEMU line, a front-end served, stats, clean SIGTERM', async () => {
  const sock = join(dir, 'serve.sock');
  const { child, lines, exited } = startNetbe(['serve', '--vhost-user', sock, '--backend', 'memory,mode=loopback', '--stats', '0.2']);
  let fe: VhostUserFrontend | undefined;
  try {
    await waitFor(() => lines.some((l) => /-netdev vhost-user/.test(l)), 60_000, 'the QEMU line');
    const qemu = lines.find((l) => /-netdev vhost-user/.test(l))!;
    assert.match(qemu, `path=${sock}`);
    assert.match(qemu, 'memory-backend-memfd');
    assert.match(qemu, 'share=on');
    assert.match(qemu, 'vectors=0');
    fe = new VhostUserFrontend({ socketPath: sock });
    await fe.setUp();
    const rx = fe.drivers[0]!;
    const tx = fe.drivers[1]!;
    for (let i = 0; i < 8; i++) rx.postAndKick({ writable: [2048] });
    const packet = new Uint8Array(12 + 60);
    packet.fill(0xff, 12, 18);
    for (let i = 0; i < 4; i++) tx.postAndKick({ readable: [packet] });
    await waitFor(() => rx.pendingUsed() === 4, 10_000, 'the looped-back frames');
    await waitFor(() => lines.some((l) => /rx \d.*frames\/s.*drops \| tx .*frames\/s/.test(l) && !/rx 0 frames/.test(l)), 10_000, 'a stats line with traffic');
  } finally {
    fe?.close();
    child.kill('SIGTERM');
  }
  assert.is(await withTimeout(20_000, exited, 'netbe exiting on SIGTERM'), 0, lines.join('\n'));
  assert.ok(lines.some((l) => /SIGTERM: shutting down/.test(l)));
  assert.not.ok(existsSync(sock), 'the socket file is removed');
});

test('netbe serve --capture: both directions land in a pcapng file that tshark reads with directions', async () => {
  const sock = join(dir, 'capture.sock');
  const file = join(dir, 'nic.pcapng');
  const { child, lines, exited } = startNetbe(['serve', '--vhost-user', sock, '--backend', 'memory,mode=loopback', '--capture', file]);
  let fe: VhostUserFrontend | undefined;
  try {
    await waitFor(() => lines.some((l) => /-netdev vhost-user/.test(l)), 60_000, 'the QEMU line');
    assert.ok(lines.some((l) => l.includes(`capturing both directions to ${file}`)));
    fe = new VhostUserFrontend({ socketPath: sock });
    await fe.setUp();
    const rx = fe.drivers[0]!;
    const tx = fe.drivers[1]!;
    for (let i = 0; i < 8; i++) rx.postAndKick({ writable: [2048] });
    for (let i = 0; i < 3; i++) {
      const packet = new Uint8Array(12 + 60 + i);
      packet.fill(0xff, 12, 18);
      tx.postAndKick({ readable: [packet] });
    }
    await waitFor(() => rx.pendingUsed() === 3, 10_000, 'the looped-back frames');
  } finally {
    fe?.close();
    child.kill('SIGTERM');
  }
  assert.is(await withTimeout(20_000, exited, 'netbe exiting on SIGTERM'), 0, lines.join('\n'));
  // The file is flushed on close; tshark reads 3 frames sent by the guest (outbound = 2 in
  // pcapng's epb_flags) and the same 3 looped back to it (inbound = 1).
  const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.packet_flags_direction'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => l.split('\t').map(Number));
  const sorted = rows.map(([len, dir]) => `${dir}:${len}`).sort();
  assert.equal(sorted, ['1:60', '1:61', '1:62', '2:60', '2:61', '2:62'].sort(), r.stdout);
});

test('netbe serve rejects capture given twice and an unwritable capture path, naming the option', async () => {
  const x = io();
  assert.is(await main(['serve', '--vhost-user', join(dir, 'c2.sock'), '--backend', `memory,capture=${join(dir, 'a.pcapng')}`, '--capture', join(dir, 'b.pcapng')], x), 2);
  assert.match(x.lines.join('\n'), /--capture: also given as capture= in --backend/);
  const y = io();
  assert.is(await main(['serve', '--vhost-user', join(dir, 'c3.sock'), '--backend', 'memory', '--capture', '/nonexistent-dir/x.pcapng'], y), 2);
  assert.match(y.lines.join('\n'), /--capture: cannot create/);
});

test('netbe with no arguments prints usage (exit 2); help exits 0', () => {
  const r = spawnSync(process.execPath, [BIN], { encoding: 'utf8' });
  assert.is(r.status, 2);
  assert.match(r.stdout, /netbe serve --vhost-user PATH/);
  assert.is(spawnSync(process.execPath, [BIN, 'help'], { encoding: 'utf8' }).status, 0);
});

test.run();
