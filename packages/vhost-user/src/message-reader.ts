/**
 * Reassembles vhost-user messages from a byte stream. A stream socket may deliver a message in
 * pieces or several messages at once; file descriptors (SCM_RIGHTS) arrive with the bytes of the
 * sendmsg that carried them, i.e. with the first byte of their message. The reader attaches the
 * fds of a chunk to the message that starts in that chunk (or, when the chunk continues a
 * message, to the message in progress).
 */
import { VhostUserError } from './errors';
import type { VhostUserMessage } from './messages';
import { FLAG_REPLY, FLAG_VERSION, FLAG_VERSION_MASK, HEADER_SIZE, MAX_FDS, MAX_PAYLOAD, requestName } from './protocol';

export interface MessageReaderOptions {
  /** Reading replies (front-end side): the REPLY flag must be set instead of clear. */
  replies?: boolean;
}

export class MessageReader {
  private buffer = new Uint8Array(HEADER_SIZE + MAX_PAYLOAD);
  private filled = 0;
  private fds: number[] = [];
  private readonly replies: boolean;

  constructor(options: MessageReaderOptions = {}) {
    this.replies = options.replies ?? false;
  }

  /**
   * Adds one chunk as read from the socket and returns the messages it completed. Throws
   * {@link VhostUserError} `ERR_PROTOCOL` on a bad header; the fds taken so far are then returned
   * by {@link takeFds} so the caller can close them.
   */
  push(bytes: Uint8Array, fds: readonly number[] = []): VhostUserMessage[] {
    for (const fd of fds) this.fds.push(fd);
    const out: VhostUserMessage[] = [];
    let at = 0;
    while (at < bytes.length) {
      if (this.filled < HEADER_SIZE) {
        const n = Math.min(HEADER_SIZE - this.filled, bytes.length - at);
        this.buffer.set(bytes.subarray(at, at + n), this.filled);
        this.filled += n;
        at += n;
        if (this.filled < HEADER_SIZE) break;
        this.checkHeader();
      }
      const size = this.payloadSize();
      const need = HEADER_SIZE + size - this.filled;
      const n = Math.min(need, bytes.length - at);
      this.buffer.set(bytes.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === HEADER_SIZE + size) out.push(this.complete(size));
    }
    if (this.filled === 0 && this.fds.length > 0) {
      // fds arrived without any message bytes to carry them: a protocol error.
      throw new VhostUserError('ERR_PROTOCOL', `${this.fds.length} file descriptors arrived outside any message`);
    }
    return out;
  }

  /**
   * How many bytes to read next so that one read never spans two messages: the rest of the
   * header, or the rest of the payload. Reading exactly this much keeps fds with their message
   * (a unix stream read may otherwise return the tail of one message and the next message's
   * bytes, with the next message's fds, at once).
   */
  wanted(): number {
    if (this.filled < HEADER_SIZE) return HEADER_SIZE - this.filled;
    return HEADER_SIZE + this.payloadSize() - this.filled;
  }

  /** True when part of a message has been read. */
  get pending(): boolean {
    return this.filled > 0;
  }

  /** Hands over (and forgets) the fds not yet attached to a returned message. */
  takeFds(): number[] {
    const f = this.fds;
    this.fds = [];
    return f;
  }

  private header(): DataView {
    return new DataView(this.buffer.buffer, 0, HEADER_SIZE);
  }

  private payloadSize(): number {
    return this.header().getUint32(8, true);
  }

  private checkHeader(): void {
    const h = this.header();
    const request = h.getUint32(0, true);
    const flags = h.getUint32(4, true);
    const size = h.getUint32(8, true);
    const name = requestName(request);
    if ((flags & FLAG_VERSION_MASK) !== FLAG_VERSION) throw new VhostUserError('ERR_PROTOCOL', `${name}: protocol version ${flags & FLAG_VERSION_MASK} in flags 0x${flags.toString(16)}, expected 1`);
    if (((flags & FLAG_REPLY) !== 0) !== this.replies) throw new VhostUserError('ERR_PROTOCOL', `${name}: ${this.replies ? 'reply flag missing' : 'a request has the reply flag set'}`);
    if (size > MAX_PAYLOAD) throw new VhostUserError('ERR_PROTOCOL', `${name}: payload size ${size} exceeds ${MAX_PAYLOAD}`);
    if (this.fds.length > MAX_FDS) throw new VhostUserError('ERR_PROTOCOL', `${name}: ${this.fds.length} file descriptors, at most ${MAX_FDS}`);
  }

  private complete(size: number): VhostUserMessage {
    const h = this.header();
    const msg: VhostUserMessage = {
      request: h.getUint32(0, true),
      flags: h.getUint32(4, true),
      payload: this.buffer.slice(HEADER_SIZE, HEADER_SIZE + size),
      fds: this.fds,
    };
    this.fds = [];
    this.filled = 0;
    return msg;
  }
}
