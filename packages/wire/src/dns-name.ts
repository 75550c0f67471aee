import { WireError } from './errors';

/** RFC 1035 §2.3.4 limits. */
export const DNS_MAX_LABEL = 63;
export const DNS_MAX_NAME = 255;
/** More pointer hops than any legal name needs (a 255-byte name has at most 127 labels). */
const MAX_POINTER_HOPS = 128;

export interface DecodedName {
  /** Dotted form without the trailing dot; "" for the root. Labels are read as Latin-1. */
  name: string;
  /** The offset just after the name where it started (after the first pointer, if any). */
  next: number;
}

/**
 * Decodes a possibly compressed name (RFC 1035 §4.1.4) at `offset` of the whole message `msg`.
 * Loops are impossible by construction: every pointer must point strictly before the label that
 * holds it, and the hop count and total length are bounded. Throws `bad-name` or `truncated`.
 */
export function decodeDnsName(msg: Uint8Array, offset: number): DecodedName {
  let pos = offset;
  let next = -1;
  let wireLen = 1; // the final root label
  let hops = 0;
  let name = '';
  let lowestJump = offset;
  for (;;) {
    if (pos >= msg.length) throw new WireError('truncated', `dns name runs past the message at ${pos}`);
    const len = msg[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      return { name, next };
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= msg.length) throw new WireError('truncated', 'dns compression pointer cut short');
      const target = ((len & 0x3f) << 8) | msg[pos + 1]!;
      if (target >= lowestJump) throw new WireError('bad-name', `dns compression pointer to ${target} does not point backwards (loop)`);
      if (++hops > MAX_POINTER_HOPS) throw new WireError('bad-name', 'dns name has too many compression pointers');
      if (next < 0) next = pos + 2;
      lowestJump = target;
      pos = target;
      continue;
    }
    if (kind !== 0) throw new WireError('bad-name', `dns label type 0x${kind.toString(16)} is not supported`);
    if (pos + 1 + len > msg.length) throw new WireError('truncated', 'dns label runs past the message');
    wireLen += len + 1;
    if (wireLen > DNS_MAX_NAME) throw new WireError('bad-name', 'dns name longer than 255 bytes');
    if (name.length > 0) name += '.';
    for (let i = pos + 1; i <= pos + len; i++) name += String.fromCharCode(msg[i]!);
    pos += 1 + len;
  }
}

/** The uncompressed wire length of a dotted name. */
export function dnsNameLen(name: string): number {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  return trimmed === '' ? 1 : trimmed.length + 2;
}

/** Writes `name` uncompressed at `buf[offset..]`; returns the offset after it. Throws `bad-name`. */
export function encodeDnsName(name: string, buf: Uint8Array, offset: number): number {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (dnsNameLen(trimmed) > DNS_MAX_NAME) throw new WireError('bad-name', `name "${name.slice(0, 40)}…" is longer than 255 bytes`);
  let i = offset;
  if (trimmed !== '') {
    for (const label of trimmed.split('.')) {
      if (label.length === 0 || label.length > DNS_MAX_LABEL) throw new WireError('bad-name', `label "${label.slice(0, 70)}" in "${name}" must be 1..63 bytes`);
      if (i + 1 + label.length >= buf.length) throw new WireError('too-big', 'dns name does not fit');
      buf[i++] = label.length;
      for (let k = 0; k < label.length; k++) {
        const c = label.charCodeAt(k);
        if (c > 0xff) throw new WireError('bad-name', `label "${label}" is not Latin-1`);
        buf[i++] = c;
      }
    }
  }
  if (i >= buf.length) throw new WireError('too-big', 'dns name does not fit');
  buf[i++] = 0;
  return i;
}
