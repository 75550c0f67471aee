import { backendConformance } from '@netbe/conformance';
import { ETHERTYPE_IPV4, ICMP_ECHO_REPLY, IP_PROTO_ICMP, emitEthernet, emitIcmpv4, emitIpv4 } from '@netbe/wire';
import { SlirpBackend } from '../src/index';
import { DNS, GUEST, GUEST_MAC, SLIRP_MAC, echoFrame } from './helpers/guest';

/**
 * The kit's frames have an EtherType slirp does not route, so "send" does not apply: slirp ends
 * the link. To make a frame arrive, the harness pings the DNS address with the kit frame as the
 * echo data (sized so the reply has the kit frame's length) and returns the exact reply the
 * stack will produce: DF set, IP id 0 (RFC 6864), TTL 64.
 */
backendConformance({
  name: 'slirp',
  supports: {
    send: { notApplicable: 'slirp terminates the link: frames are consumed by the stack, not carried to a far side' },
    receive: true,
    vnetHeader: true,
    reopen: true,
  },
  create: async () => {
    const backend = await SlirpBackend.create('slirp,resolver=127.0.0.1:9', { log: () => undefined });
    return {
      backend,
      deliverToBackend: (frame: Uint8Array) => {
        const dataLen = Math.max(18, frame.length - 42);
        const data = new Uint8Array(dataLen);
        data.set(frame.subarray(0, dataLen));
        const request = echoFrame(GUEST, DNS, 0x4e42, frame.length & 0xffff, data);
        const hdr = new Uint8Array(backend.vnetHdrLen); // a plain header when the kit set one
        if (backend.send([hdr, request], 2) !== hdr.length + request.length) throw new Error('slirp refused the echo request');
        const reply = new Uint8Array(Math.max(60, 42 + dataLen));
        emitEthernet({ dst: GUEST_MAC, src: SLIRP_MAC, ethertype: ETHERTYPE_IPV4 }, reply);
        emitIpv4({ src: DNS, dst: GUEST, protocol: IP_PROTO_ICMP, payloadLen: 8 + dataLen, ttl: 64, ident: 0, dontFragment: true }, reply, 14);
        emitIcmpv4({ type: ICMP_ECHO_REPLY, code: 0, rest: ((0x4e42 << 16) | (frame.length & 0xffff)) >>> 0, data }, reply, 34);
        return reply;
      },
    };
  },
}).run();
