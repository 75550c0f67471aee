import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { DNS_FLAG_QR, DNS_FLAG_RA, emitDns, parseDns, parseIpv4Address, type DnsRepr } from '@netbe/wire';

/**
 * A tiny authoritative DNS responder on 127.0.0.1 (UDP and TCP on the same port), answering A
 * queries from a fixed table and NXDOMAIN otherwise. The DNS upstream for the slirp tests: no
 * query ever leaves the machine.
 */
export class LoopbackDns {
  readonly queries: Array<{ transport: 'udp' | 'tcp'; name: string }> = [];
  private udp!: Socket;
  private tcp!: Server;
  port = 0;

  constructor(private readonly table: Record<string, string>) {}

  async start(): Promise<void> {
    this.tcp = createServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          const answer = this.answer(new Uint8Array(msg), 'tcp');
          const len = Buffer.alloc(2);
          len.writeUInt16BE(answer.length);
          sock.write(Buffer.concat([len, answer]));
        }
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => this.tcp.listen(0, '127.0.0.1', r));
    this.port = (this.tcp.address() as { port: number }).port;
    this.udp = createSocket('udp4');
    this.udp.on('message', (msg, rinfo) => this.udp.send(this.answer(new Uint8Array(msg), 'udp'), rinfo.port, rinfo.address));
    await new Promise<void>((r) => this.udp.bind(this.port, '127.0.0.1', r));
  }

  private answer(msg: Uint8Array, transport: 'udp' | 'tcp'): Uint8Array {
    const q = parseDns(msg);
    const name = q.questions[0]?.name ?? '';
    this.queries.push({ transport, name });
    const addr = this.table[name.toLowerCase()];
    const repr: DnsRepr = { id: q.id, flags: DNS_FLAG_QR | DNS_FLAG_RA | 0x0100 | (addr ? 0 : 3), questions: q.questions, answers: [], authorities: [], additionals: [] };
    if (addr) repr.answers.push({ name, type: 1, class: 1, ttl: 300, rdata: new Uint8Array(0), address: parseIpv4Address(addr)! });
    return emitDns(repr);
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.udp.close(() => r()));
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }
}
