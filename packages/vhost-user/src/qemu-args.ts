/**
 * The QEMU command-line pieces that attach a guest NIC to a vhost-user back-end. Verified with
 * Debian's QEMU 7.2 (DESIGN.md, "Facts verified"): guest RAM must be a shared memfd so the
 * back-end can map it, and the virtio-net-pci device must have no MSI-X vectors (`vectors=0`),
 * otherwise QEMU 7.2 crashes when the vhost device starts; the guest then uses INTx.
 */
export interface QemuAttachOptions {
  /** The back-end's unix socket path. */
  socketPath: string;
  /** Guest RAM in MiB; the memfd backend must have the same size as `-m`. Default 256. */
  memMiB?: number;
  /** The NIC's MAC address, if the guest should see a fixed one. */
  mac?: string;
  /** QEMU object ids prefix. Default "netbe". */
  id?: string;
  /** Seconds after which QEMU retries when the back-end goes away (chardev `reconnect=`). 0: off. Default 1. */
  reconnectSeconds?: number;
}

/** The arguments, one per array element (no shell quoting needed). */
export function qemuVhostUserArgs(o: QemuAttachOptions): string[] {
  const mem = o.memMiB ?? 256;
  const id = o.id ?? 'netbe';
  const reconnect = o.reconnectSeconds ?? 1;
  if (/[,\s]/.test(o.socketPath)) throw new RangeError(`socket path "${o.socketPath}" contains a comma or a space, which QEMU options cannot carry`);
  return [
    '-m', `${mem}M`,
    '-object', `memory-backend-memfd,id=${id}-mem,size=${mem}M,share=on`,
    '-machine', `memory-backend=${id}-mem`,
    '-chardev', `socket,id=${id}-chr,path=${o.socketPath}${reconnect > 0 ? `,reconnect=${reconnect}` : ''}`,
    '-netdev', `vhost-user,id=${id}-net,chardev=${id}-chr`,
    '-device', `virtio-net-pci,netdev=${id}-net,vectors=0${o.mac ? `,mac=${o.mac}` : ''}`,
  ];
}

/** The same arguments as one shell-ready line (each argument quoted when it needs it). */
export function qemuVhostUserCommandLine(o: QemuAttachOptions): string {
  return qemuVhostUserArgs(o)
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}
