import { ConfigError } from '@netbe/core';
import { NR_REG_ALL_NIC, NR_REG_NIC_SW, NR_REG_ONE_NIC, NR_REG_ONE_SW, NR_REG_SW, REQ_NAME_MAX } from '@netbe/netmap-bindings';

/** A backend name parsed into what NETMAP_REQ_REGISTER wants. */
export interface NetmapPortName {
  kind: 'netmap' | 'vale';
  /** nmreq_header.nr_name: `eth0` for `netmap:eth0`, the whole `vale0:vm1` for VALE. */
  requestName: string;
  /** NR_REG_* mode. */
  mode: number;
  /** The ring pair for NR_REG_ONE_NIC / NR_REG_ONE_SW, else 0. */
  ringId: number;
}

const IDENTIFIER = /^[A-Za-z0-9_]*$/; // netmap's nm_is_identifier
const RING_MAX = 0xfff; // NETMAP_RING_MASK
const SELECTORS = '-*^{}/@';

/**
 * Parses bhyve's names (netmap(4) port-name syntax, the subset netbe drives):
 *
 * - `netmap:IFNAME`      all NIC ring pairs          (NR_REG_ALL_NIC)
 * - `netmap:IFNAME-N`    NIC ring pair N             (NR_REG_ONE_NIC)
 * - `netmap:IFNAME*`     NIC and host rings          (NR_REG_NIC_SW)
 * - `netmap:IFNAME^`     host rings; `^N` host pair N (NR_REG_SW / NR_REG_ONE_SW)
 * - `valeX:PORT`         a port of VALE switch X (X may be empty), created on first use
 *
 * Anything else (pipes `{` `}`, flags `/…`, memory ids `@…`, junk) is a ConfigError naming why.
 */
export function parseNetmapName(name: string): NetmapPortName {
  const fail = (reason: string): never => {
    throw new ConfigError('backend', `"${name}" is not a netmap port name: ${reason}`);
  };
  if (typeof name !== 'string') fail('not a string');
  if (name.startsWith('vale')) {
    const colon = name.indexOf(':');
    if (colon < 0) fail('a VALE port is valeSWITCH:PORT (missing ":")');
    const sw = name.slice(4, colon);
    const port = name.slice(colon + 1);
    if (!IDENTIFIER.test(sw)) fail(`the switch name "${sw}" may only hold letters, digits and _`);
    if (port === '') fail('the VALE port name is empty');
    if (!IDENTIFIER.test(port)) {
      const bad = [...port].find((c) => !/[A-Za-z0-9_]/.test(c));
      fail(SELECTORS.includes(bad!) ? `ring selectors ("${bad}") are not supported on VALE ports` : `the port name "${port}" may only hold letters, digits and _`);
    }
    if (name.length > REQ_NAME_MAX) fail(`longer than ${REQ_NAME_MAX} bytes`);
    return { kind: 'vale', requestName: name, mode: NR_REG_ALL_NIC, ringId: 0 };
  }
  if (!name.startsWith('netmap:')) fail('expected netmap:IFNAME or valeSWITCH:PORT');
  const rest = name.slice('netmap:'.length);
  let end = 0;
  while (end < rest.length && !SELECTORS.includes(rest[end]!)) end++;
  const ifname = rest.slice(0, end);
  const suffix = rest.slice(end);
  // Linux interface names: 1..15 bytes, no '/', no whitespace (IFNAMSIZ 16).
  if (ifname === '') fail('the interface name is empty');
  if (ifname.length > 15) fail('the interface name is longer than 15 bytes (IFNAMSIZ)');
  if (/[\s/:,]/.test(ifname) || /[^\x21-\x7e]/.test(ifname)) fail(`the interface name "${ifname}" has a character interfaces cannot have`);
  let mode = NR_REG_ALL_NIC;
  let ringId = 0;
  if (suffix !== '') {
    const m = /^(?:-(\d+)|(\*)|\^(\d*))$/.exec(suffix);
    if (!m) {
      const c = suffix[0]!;
      if (c === '{' || c === '}') fail('netmap pipes are not supported');
      if (c === '/' || c === '@') fail(`port flags and memory ids ("${suffix}") are not supported`);
      fail(`"${suffix}" is not a ring selector (-N, *, ^, ^N)`);
    }
    if (m![1] !== undefined) {
      mode = NR_REG_ONE_NIC;
      ringId = Number(m![1]);
    } else if (m![2] !== undefined) {
      mode = NR_REG_NIC_SW;
    } else if (m![3] === '') {
      mode = NR_REG_SW;
    } else {
      mode = NR_REG_ONE_SW;
      ringId = Number(m![3]);
    }
    if (!(ringId < RING_MAX)) fail(`ring ${ringId} is out of range 0..${RING_MAX - 1}`);
  }
  return { kind: 'netmap', requestName: ifname, mode, ringId };
}
