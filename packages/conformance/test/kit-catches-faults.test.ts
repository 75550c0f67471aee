import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BackendWrapper, NetbeError, type BackendListener, type Iov, type NetBackend } from '@netbe/core';
import { createMemoryPair } from '@netbe/backend-memory';
import { conformanceTests, peerHarness, type GroupName, type Harness, type Supports } from '../src/index';

/** Delegates every verb to a correct backend; a subclass breaks one rule. */
class Wrapper extends BackendWrapper {
  override get name(): string {
    return `faulty ${this.inner.name}`;
  }
}

const all: Supports = { send: true, receive: true, vnetHeader: true, reopen: true };

/** Runs one group against `wrap(pair end)` and returns the names of the failing tests with their messages. */
async function failures(group: GroupName, wrap: (be: NetBackend) => NetBackend, harness?: (h: Harness) => Harness): Promise<Map<string, string>> {
  const plan = conformanceTests({
    name: 'faulty',
    supports: all,
    timeoutMs: 800,
    quietMs: 10,
    create: () => {
      const [a, b] = createMemoryPair();
      const h = peerHarness(wrap(a), b);
      return harness ? harness(h) : h;
    },
  });
  const failed = new Map<string, string>();
  for (const t of plan.tests.filter((x) => x.group === group)) {
    await t.run().catch((e: Error) => failed.set(t.name, e.message));
  }
  return failed;
}

function expectCaught(failed: Map<string, string>, name: RegExp, message?: RegExp): void {
  const hit = [...failed].find(([n]) => name.test(n));
  assert.ok(hit, `expected a failure of a test matching ${name}; failures: ${JSON.stringify([...failed.keys()])}`);
  if (message) assert.match(hit![1], message);
}

test('a correct backend passes every group (the baseline for the faults below)', async () => {
  for (const group of ['caps', 'send-accounting', 'send', 'receive', 'rx-gating', 'vnet-header', 'close', 'reopen'] as const) {
    const failed = await failures(group, (be) => be);
    assert.is(failed.size, 0, `${group}: ${JSON.stringify([...failed])}`);
  }
});

test('rxReady called synchronously from rxEnable is caught', async () => {
  class SyncReady extends Wrapper {
    private l?: BackendListener;
    override attach(l: BackendListener): void {
      this.l = l;
      super.attach(l);
    }
    override rxEnable(): void {
      super.rxEnable();
      if (this.peekRecvLen() > 0) this.l?.rxReady();
    }
  }
  expectCaught(await failures('rx-gating', (be) => new SyncReady(be)), /never synchronously/, /synchronously from inside rxEnable|inside rxEnable/);
});

test('a backend that ignores rxDisable is caught', async () => {
  class NoDisable extends Wrapper {
    override rxDisable(): void {}
  }
  expectCaught(await failures('rx-gating', (be) => new NoDisable(be)), /rxDisable/, /disabled|rxDisable/);
});

test('an edge-triggered backend (one call per rxEnable) is caught', async () => {
  class EdgeTriggered extends Wrapper {
    private armed = false;
    override attach(l: BackendListener): void {
      super.attach({
        rxReady: () => {
          if (!this.armed) return;
          this.armed = false;
          l.rxReady();
        },
      });
    }
    override rxEnable(): void {
      this.armed = true;
      super.rxEnable();
    }
  }
  expectCaught(await failures('rx-gating', (be) => new EdgeTriggered(be)), /level-triggered/);
});

test('peekRecvLen that consumes the frame is caught', async () => {
  class ConsumingPeek extends Wrapper {
    override peekRecvLen(): number {
      const n = super.peekRecvLen();
      if (n > 0 && this.inner.stats.rxFrames % 2 === 1) this.inner.rxDiscard();
      return n;
    }
  }
  const failed = await failures('receive', (be) => new ConsumingPeek(be));
  assert.ok(failed.size > 0);
});

test('recv that truncates into a too-small iov instead of returning -1 is caught', async () => {
  class Truncating extends Wrapper {
    override recv(iov: Iov, n: number): number {
      const len = this.peekRecvLen();
      let room = 0;
      for (let i = 0; i < n; i++) room += iov[i]!.length;
      if (len > room && len > 0) {
        const buf = new Uint8Array(len);
        this.inner.recv([buf], 1);
        iov[0]!.set(buf.subarray(0, iov[0]!.length));
        return room;
      }
      return super.recv(iov, n);
    }
  }
  expectCaught(await failures('receive', (be) => new Truncating(be)), /too-small/, /-1|recv into/);
});

test('setCap accepting any header length is caught', async () => {
  class Lenient extends Wrapper {
    override setCap(f: bigint, len: number): void {
      super.setCap(f, [0, 10, 12].includes(len) ? len : 0);
    }
  }
  expectCaught(await failures('caps', (be) => new Lenient(be)), /other than 0, 10, 12/, /ERR_UNSUPPORTED/);
});

test('setCap accepting features outside getCap is caught', async () => {
  class Lenient extends Wrapper {
    override setCap(_f: bigint, len: number): void {
      super.setCap(0n, len);
    }
  }
  expectCaught(await failures('caps', (be) => new Lenient(be)), /outside getCap/);
});

test('send that throws on an empty frame, or drops without counting, is caught', async () => {
  class Throwing extends Wrapper {
    override send(iov: Iov, n: number): number {
      if (n === 0) throw new NetbeError('ERR_IO', 'empty');
      return super.send(iov, n);
    }
  }
  expectCaught(await failures('send-accounting', (be) => new Throwing(be)), /empty frame/);
  class SilentDrop extends Wrapper {
    override send(iov: Iov, n: number): number {
      return iov.length > 0 && iov[0]!.length === 300_000 ? 0 : super.send(iov, n);
    }
  }
  expectCaught(await failures('send-accounting', (be) => new SilentDrop(be)), /300 000/);
});

test('a header length reported but not honoured is caught', async () => {
  class HeaderLie extends Wrapper {
    private len = 0;
    override get vnetHdrLen(): number {
      return this.len;
    }
    override setCap(f: bigint, len: number): void {
      super.setCap(f, 0);
      this.len = len;
    }
  }
  const failed = await failures('vnet-header', (be) => new HeaderLie(be));
  expectCaught(failed, /send with a 12-byte header/);
  expectCaught(failed, /receive with a 12-byte header/);
});

test('verbs that still work after close, and rxReady after close, are caught', async () => {
  class LateClose extends Wrapper {
    override close(): Promise<void> {
      setTimeout(() => void this.inner.close(), 200);
      return Promise.resolve();
    }
  }
  const failed = await failures('close', (be) => new LateClose(be));
  expectCaught(failed, /every verb is a no-op/);
  expectCaught(failed, /no call after close/);
});

test('a group that applies but whose harness lacks the hook fails, naming the hook', async () => {
  const failed = await failures('receive', (be) => be, (h) => ({ backend: h.backend, collectFromBackend: h.collectFromBackend!, close: h.close! }));
  assert.ok(failed.size > 0);
  for (const message of failed.values()) assert.match(message, /harness has no deliverToBackend/);
});

test('groups the manifest excludes give no tests and keep their reason; a bad manifest is a TypeError', () => {
  const plan = conformanceTests({
    name: 'x',
    supports: { send: { notApplicable: 'write-only file' }, receive: { notApplicable: 'no input' }, vnetHeader: true, reopen: true },
    create: () => ({ backend: createMemoryPair()[0] }),
  });
  const byName = new Map(plan.groups.map((g) => [g.group, g]));
  assert.equal(byName.get('send'), { group: 'send', applies: false, reason: 'write-only file', tests: 0 });
  assert.is(byName.get('rx-gating')!.reason, 'needs receive (no input)');
  assert.ok(plan.tests.every((t) => t.group !== 'send' && t.group !== 'receive' && t.group !== 'rx-gating'));
  assert.throws(
    () => conformanceTests({ name: 'x', supports: { ...all, receive: false as never }, create: () => ({ backend: createMemoryPair()[0] }) }),
    /supports.receive must be true or \{ notApplicable/,
  );
  assert.throws(
    () => conformanceTests({ name: 'x', supports: { ...all, reopen: { notApplicable: ' ' } }, create: () => ({ backend: createMemoryPair()[0] }) }),
    TypeError,
  );
});

test.run();
