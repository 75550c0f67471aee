import { ConfigError } from '@netbe/core';
import { QueueBackend } from './queue-backend';
import type { ResolvedOptions } from './options';

/**
 * Finds pair ends by name: the first `memory,mode=pair,peer=NAME` waits, the second connects to
 * it. When one end closes the other stays and waits again, so a closed end can be reopened under
 * the same name. A third live end for a name is a ConfigError on `peer`.
 */
export class PairDirectory {
  private readonly ends = new Map<string, QueueBackend[]>();

  join(peer: string, options: ResolvedOptions): QueueBackend {
    const live = this.ends.get(peer) ?? [];
    if (live.length >= 2) throw new ConfigError('peer', `"${peer}" already has two open ends`);
    const end = new QueueBackend('pair', options);
    live.push(end);
    this.ends.set(peer, live);
    end.whenClosed((closed) => this.leave(peer, closed));
    if (live.length === 2) QueueBackend.connect(live[0]!, live[1]!);
    return end;
  }

  /** Names with at least one open end. */
  names(): string[] {
    return [...this.ends.keys()];
  }

  private leave(peer: string, end: QueueBackend): void {
    const live = (this.ends.get(peer) ?? []).filter((e) => e !== end);
    if (live.length === 0) this.ends.delete(peer);
    else this.ends.set(peer, live);
  }
}

/** The directory config strings use. */
export const defaultPairDirectory = new PairDirectory();
