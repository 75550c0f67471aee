/**
 * The vhost-user back-end: a unix socket server that serves one front-end at a time
 * (vhost-user.rst: the back-end is the socket server unless told otherwise; QEMU connects with
 * `-chardev socket,path=…[,reconnect=N]`). When the front-end goes away the device is reset and
 * the next connection is accepted; a connection that breaks the protocol is closed with one log
 * line and the server keeps serving.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { sys, isSysError, type Watcher } from '@netbe/sys';
import type { VhostUserDevice } from './device';
import { VhostUserError } from './errors';
import { MessageReader } from './message-reader';
import type { VhostUserPlatform } from './platform';
import { HEADER_SIZE, MAX_FDS, MAX_PAYLOAD } from './protocol';
import { VhostUserSession } from './session';
import { sysPlatform } from './sys-platform';

export interface VhostUserServerOptions {
  socketPath: string;
  device: VhostUserDevice;
  /** Where log lines go (one line per event: connect, disconnect, protocol error). Default: none. */
  log?: (line: string) => void;
  platform?: VhostUserPlatform;
}

interface Connection {
  id: number;
  fd: number;
  watcher: Watcher;
  reader: MessageReader;
  session: VhostUserSession;
  closed: boolean;
}

export class VhostUserServer {
  readonly socketPath: string;
  readonly device: VhostUserDevice;
  /** Front-ends accepted so far. */
  connectionsAccepted = 0;
  /** Connections closed because of a protocol error. */
  connectionsRejected = 0;
  /** Called when a front-end connects / disconnects (reason: 'closed' by peer, or the error). */
  onConnect: ((id: number) => void) | undefined;
  onDisconnect: ((id: number, reason: string) => void) | undefined;

  private readonly log: (line: string) => void;
  private readonly platform: VhostUserPlatform;
  private readonly listenFd: number;
  private readonly listenWatcher: Watcher;
  private readonly buffer = new Uint8Array(HEADER_SIZE + MAX_PAYLOAD);
  private current: Connection | null = null;
  private closed = false;

  private constructor(o: VhostUserServerOptions, listenFd: number) {
    this.socketPath = o.socketPath;
    this.device = o.device;
    this.log = o.log ?? (() => {});
    this.platform = o.platform ?? sysPlatform;
    this.listenFd = listenFd;
    this.listenWatcher = sys.watcherCreate(listenFd, (error) => {
      if (error) this.log(`vhost-user: accept on ${this.socketPath} failed: ${error.message}`);
      else this.acceptAll();
    });
    sys.watcherStart(this.listenWatcher, sys.READABLE);
  }

  /**
   * Listens on `socketPath`. A stale socket file (nobody accepting) is replaced; a path where
   * another process is serving is an error (`EADDRINUSE`), so two servers never share a path.
   */
  static listen(o: VhostUserServerOptions): VhostUserServer {
    let fd: number;
    try {
      fd = sys.unixListen(o.socketPath);
    } catch (e) {
      if (!isSysError(e, 'EADDRINUSE')) throw e;
      if (socketIsServed(o.socketPath)) {
        throw new VhostUserError('ERR_IO', `${o.socketPath}: another process is already serving this socket`, { cause: e });
      }
      removeStaleSocket(o.socketPath);
      fd = sys.unixListen(o.socketPath);
    }
    return new VhostUserServer(o, fd);
  }

  /** True while a front-end is connected. */
  get connected(): boolean {
    return this.current !== null;
  }

  /** The session of the connected front-end (tests, stats). */
  get session(): VhostUserSession | null {
    return this.current?.session ?? null;
  }

  /** Stops listening, drops the front-end (resetting the device) and removes the socket file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.current) this.drop(this.current, 'server closing');
    sys.watcherClose(this.listenWatcher);
    sys.close(this.listenFd);
    removeStaleSocket(this.socketPath);
  }

  private acceptAll(): void {
    for (;;) {
      let fd: number;
      try {
        fd = sys.unixAccept(this.listenFd);
      } catch (e) {
        this.log(`vhost-user: accept failed: ${(e as Error).message}`);
        return;
      }
      if (fd < 0) return;
      if (this.current) {
        this.log(`vhost-user: refusing a second front-end on ${this.socketPath} while connection ${this.current.id} is active`);
        sys.close(fd);
        continue;
      }
      this.start(fd);
    }
  }

  private start(fd: number): void {
    const id = ++this.connectionsAccepted;
    const session = new VhostUserSession(this.device, this.platform, (line) => this.log(`vhost-user[${id}]: ${line}`));
    const conn: Connection = {
      id,
      fd,
      reader: new MessageReader(),
      session,
      closed: false,
      watcher: sys.watcherCreate(fd, (error) => {
        if (error) this.drop(conn, `socket error: ${error.message}`);
        else this.readAll(conn);
      }),
    };
    session.onFatal = (e) => this.fail(conn, e);
    this.current = conn;
    sys.watcherStart(conn.watcher, sys.READABLE);
    this.log(`vhost-user[${id}]: front-end connected on ${this.socketPath}`);
    this.onConnect?.(id);
  }

  /** Reads and handles every complete message; one read never spans two messages. */
  private readAll(conn: Connection): void {
    try {
      while (!conn.closed) {
        const want = conn.reader.wanted();
        const r = sys.recvmsg(conn.fd, this.buffer.subarray(0, want), MAX_FDS);
        if (r === null) return;
        if (r.bytes === 0) {
          for (const fd of r.fds) sys.close(fd);
          this.drop(conn, conn.reader.pending ? 'front-end closed the connection in the middle of a message' : 'front-end disconnected');
          return;
        }
        if (r.fdsDropped > 0 || r.controlTruncated) {
          for (const fd of r.fds) sys.close(fd);
          throw new VhostUserError('ERR_PROTOCOL', `a message carried more than ${MAX_FDS} file descriptors`);
        }
        for (const msg of conn.reader.push(this.buffer.subarray(0, r.bytes), r.fds)) {
          const reply = conn.session.handle(msg);
          if (reply !== null) this.send(conn, reply);
          if (conn.closed) return;
        }
      }
    } catch (e) {
      this.fail(conn, e);
    }
  }

  private send(conn: Connection, bytes: Uint8Array): void {
    const n = sys.sendmsg(conn.fd, bytes);
    if (n !== bytes.length) throw new VhostUserError('ERR_IO', `reply of ${bytes.length} bytes could not be sent (${n < 0 ? 'socket full' : `${n} sent`}): the front-end is not reading`);
  }

  private fail(conn: Connection, e: unknown): void {
    if (conn.closed) return;
    const reason =
      e instanceof VhostUserError ? `${e.code}: ${e.message}` : isSysError(e) ? `socket error: ${e.message}` : `internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
    this.connectionsRejected++;
    this.drop(conn, reason);
  }

  private drop(conn: Connection, reason: string): void {
    if (conn.closed) return;
    conn.closed = true;
    sys.watcherClose(conn.watcher);
    for (const fd of conn.reader.takeFds()) sys.close(fd);
    try {
      conn.session.close();
    } catch (e) {
      this.log(`vhost-user[${conn.id}]: device reset failed: ${(e as Error).message}`);
    }
    sys.close(conn.fd);
    if (this.current === conn) this.current = null;
    this.log(`vhost-user[${conn.id}]: closing connection: ${reason}; device reset, waiting for the next front-end`);
    this.onDisconnect?.(conn.id, reason);
  }
}

function socketIsServed(path: string): boolean {
  try {
    sys.close(sys.unixConnect(path));
    return true;
  } catch {
    return false;
  }
}

function removeStaleSocket(path: string): void {
  try {
    // Only a socket is removed: never unlink a regular file someone passed by mistake.
    const st = lstatSafe(path);
    if (st === 'socket') unlinkSync(path);
  } catch {
    // gone already
  }
}

function lstatSafe(path: string): 'socket' | 'other' | 'missing' {
  try {
    return lstatSync(path).isSocket() ? 'socket' : 'other';
  } catch {
    return 'missing';
  }
}
