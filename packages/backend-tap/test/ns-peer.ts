/**
 * TCP peers that run inside a test namespace (`node -e` under `ip netns exec`): a sink that
 * reports the bytes and SHA-256 it received, and a source that sends a deterministic stream.
 */
import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { Netns } from '../../../tools/netns';

const SINK = `
const net = require('node:net'); const crypto = require('node:crypto');
const [ip, port] = process.argv.slice(1);
const server = net.createServer((s) => {
  const h = crypto.createHash('sha256'); let n = 0;
  s.on('data', (d) => { h.update(d); n += d.length; });
  s.on('end', () => { console.log(JSON.stringify({ bytes: n, sha256: h.digest('hex') })); s.end(); server.close(); });
});
server.listen(Number(port), ip, () => console.log('listening'));
`;

const SOURCE = `
const net = require('node:net');
const [ip, port, total] = process.argv.slice(1);
const server = net.createServer((s) => {
  const chunk = Buffer.alloc(65536); let sent = 0;
  const more = () => {
    while (sent < Number(total)) {
      const n = Math.min(chunk.length, Number(total) - sent);
      for (let i = 0; i < n; i++) chunk[i] = (sent + i) * 7 & 255;
      sent += n;
      if (!s.write(chunk.subarray(0, n))) return s.once('drain', more);
    }
    s.end(); server.close();
  };
  more();
});
server.listen(Number(port), ip, () => console.log('listening'));
`;

/** The byte at `i` of the source's stream. */
export const sourceByte = (i: number): number => (i * 7) & 255;

function lines(child: ChildProcess): AsyncIterable<string> {
  let buf = '';
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      queue.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    wake?.();
  });
  child.once('exit', () => {
    done = true;
    wake?.();
  });
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (queue.length) yield queue.shift()!;
        else if (done) return;
        else await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

export interface Peer {
  child: ChildProcess;
  /** The next line the peer prints. */
  next(): Promise<string>;
}

async function start(ns: Netns, script: string, args: string[]): Promise<Peer> {
  const child = ns.spawn([process.execPath, '-e', script, ...args]);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const it = lines(child)[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await it.next();
    if (r.done) throw new Error(`namespace peer exited: ${stderr}`);
    return r.value;
  };
  const first = await next();
  if (first !== 'listening') throw new Error(`namespace peer: ${first} ${stderr}`);
  return { child, next };
}

export function startSink(ns: Netns, ip: string, port: number): Promise<Peer> {
  return start(ns, SINK, [ip, String(port)]);
}

export function startSource(ns: Netns, ip: string, port: number, total: number): Promise<Peer> {
  return start(ns, SOURCE, [ip, String(port), String(total)]);
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Resolves with the exit code of a child. */
export function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code ?? -1));
  });
}
