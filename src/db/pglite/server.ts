import { randomInt } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  CANCEL_REQUEST,
  closeStatements,
  errorResponse,
  GSS_REQUEST,
  lastReadyStatus,
  PROTOCOL_3,
  prefixStatementName,
  readyForQuery,
  SSL_REQUEST,
  SYNC,
  simpleQuery,
  splitMessages,
  startupHeader,
  startupReply,
} from './wire.js';

/** The part of a PGlite instance the socket server uses. */
export interface RawPGliteLike {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
  execProtocolRaw(message: Uint8Array, options?: { syncToFs?: boolean }): Promise<Uint8Array>;
  runExclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** PGlite's transaction mutex: held, no query, exec or transaction of the owner runs. */
  _runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T>;
}

/** The socket file's name in its directory: `pg` connects to `<host>/.s.PGSQL.<port>`. */
export const SOCKET_PORT = 5432;
export const SOCKET_FILE = `.s.PGSQL.${SOCKET_PORT}`;

export interface SocketServer {
  /** The directory that holds the socket: `host` for `pg`. */
  readonly dir: string;
  /** Stops accepting, ends every connection (rolling back what it left open), removes the socket. */
  close(): Promise<void>;
}

/**
 * Serves one PGlite instance to other processes over a unix socket, in the PostgreSQL wire protocol.
 * PGlite has one session, so connections take turns by transaction: a connection holds the session
 * (PGlite's transaction mutex, which the owner's own queries also take) from its first message until
 * the backend is idle again (ReadyForQuery 'I'); the others, and the owner, wait. A connection that waits
 * longer than `busyTimeoutMs` gets an error (SQLSTATE 55P03) instead of hanging.
 *
 * @example
 * const server = await serveOverSocket(pgliteInstance, '/srv/app/.tally-data/tally-socket', { busyTimeoutMs: 30_000 });
 */
export async function serveOverSocket(
  db: RawPGliteLike,
  dir: string,
  { busyTimeoutMs }: { busyTimeoutMs: number },
): Promise<SocketServer> {
  prepareDir(dir);
  const path = join(dir, SOCKET_FILE);
  rmSync(path, { force: true }); // a dead owner's socket: the lock is ours now
  const params = await serverParams(db);
  const conns = new Set<Connection>();
  let next = 1;
  const server: Server = createServer((socket) => {
    const conn = new Connection(db, socket, `tally${next++}_`, params, busyTimeoutMs);
    conns.add(conn);
    void conn.done.then(() => conns.delete(conn));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return {
    dir,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...conns].map((c) => c.end()));
      await closed;
      rmSync(path, { force: true });
      try {
        rmdirSync(dir);
      } catch {
        // not empty (not ours to clear) or already gone
      }
    },
  };
}

// Owner-only: the directory is 0700 and ours (never a symlink someone else planted).
function prepareDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid())) {
    throw new Error(`${dir} is not a directory of this user: refusing to put the socket there`);
  }
  chmodSync(dir, 0o700);
}

async function serverParams(db: RawPGliteLike): Promise<Record<string, string>> {
  const [r] = (
    await db.query(`SELECT current_setting('server_version') AS v, current_setting('TimeZone') AS tz`)
  ).rows as { v: string; tz: string }[];
  return {
    server_version: r?.v ?? '17',
    server_encoding: 'UTF8',
    client_encoding: 'UTF8',
    DateStyle: 'ISO, MDY',
    integer_datetimes: 'on',
    standard_conforming_strings: 'on',
    TimeZone: r?.tz ?? 'UTC',
  };
}

const FLUSH_ON = new Set(['Q', 'S', 'H', 'c', 'f']);

class Connection {
  private buf: Buffer = Buffer.alloc(0);
  private started = false;
  private batch: Buffer[] = [];
  private release: (() => void) | null = null;
  private idle: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private readonly prepared = new Set<string>();
  private ended = false;
  readonly done: Promise<void>;
  private finish!: () => void;

  constructor(
    private readonly db: RawPGliteLike,
    private readonly socket: Socket,
    private readonly prefix: string,
    private readonly params: Record<string, string>,
    private readonly busyTimeoutMs: number,
  ) {
    this.done = new Promise((resolve) => {
      this.finish = resolve;
    });
    socket.on('data', (chunk) => {
      this.stopIdleTimer();
      this.buf = Buffer.concat([this.buf, chunk]);
      this.chain = this.chain
        .then(() => this.drain())
        .catch(() => {
          socket.destroy();
        });
    });
    socket.on('error', () => {});
    socket.on('close', () => void this.end());
  }

  /** Ends the connection: what it left open is rolled back, its prepared statements closed. */
  end(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      this.socket.destroy();
      this.chain = this.chain.catch(() => {}).then(() => this.cleanUp());
      void this.chain.finally(() => this.finish());
    }
    return this.done;
  }

  private async drain(): Promise<void> {
    if (this.ended) return;
    if (!this.started && !this.startUp()) return;
    const { messages, rest } = splitMessages(this.buf);
    this.buf = rest;
    for (const msg of messages) {
      const type = String.fromCharCode(msg[0]!);
      if (type === 'X') {
        void this.end();
        return;
      }
      const { msg: out, prepared, closed } = prefixStatementName(msg, this.prefix);
      if (prepared) this.prepared.add(prepared);
      if (closed) this.prepared.delete(closed);
      this.batch.push(out);
      if (FLUSH_ON.has(type)) await this.run(type);
      if (this.ended) return;
    }
  }

  // The startup phase: answered here (PGlite's own session is already started). False while incomplete.
  private startUp(): boolean {
    for (;;) {
      const h = startupHeader(this.buf);
      if (h === null) return false;
      this.buf = this.buf.subarray(h.length);
      if (h.code === SSL_REQUEST || h.code === GSS_REQUEST) {
        this.socket.write('N');
        continue;
      }
      if (h.code === PROTOCOL_3) {
        this.socket.write(startupReply(this.params, { pid: process.pid, secret: randomInt(2 ** 31) }));
        this.started = true;
        return true;
      }
      if (h.code !== CANCEL_REQUEST) this.socket.write(errorResponse('08P01', 'unsupported protocol'));
      void this.end();
      return false;
    }
  }

  private async run(last: string): Promise<void> {
    const batch = Buffer.concat(this.batch);
    this.batch = [];
    if (!this.release) {
      this.release = await this.acquire();
      if (!this.release) {
        const busy = errorResponse(
          '55P03',
          `the embedded database is busy: another connection held it for more than ${this.busyTimeoutMs} ms`,
        );
        this.write(last === 'S' || last === 'Q' ? Buffer.concat([busy, readyForQuery('I')]) : busy);
        return;
      }
    }
    if (this.ended) return; // the owner is closing: nothing more runs for this connection
    const res = await this.db.runExclusive(() => this.db.execProtocolRaw(batch));
    this.write(res);
    if (lastReadyStatus(res) === 'I') this.letGo();
    else this.startIdleTimer();
  }

  private write(data: Uint8Array): void {
    if (data.length > 0 && !this.ended && this.socket.writable) this.socket.write(data);
  }

  private acquire(): Promise<(() => void) | null> {
    return new Promise((resolve) => {
      let late = false;
      const timer = setTimeout(() => {
        late = true;
        resolve(null);
      }, this.busyTimeoutMs);
      void this.db._runExclusiveTransaction(
        () =>
          new Promise<void>((release) => {
            if (late) return release();
            clearTimeout(timer);
            resolve(release);
          }),
      );
    });
  }

  // A connection that holds the session (an open transaction) and says nothing for twice busyTimeoutMs is
  // ended and rolled back: a hung client must not stop the owner for good (a waiter hears 55P03 first).
  private startIdleTimer(): void {
    this.stopIdleTimer();
    this.idle = setTimeout(() => {
      this.write(
        errorResponse('25P03', 'terminating connection: idle in transaction on the shared embedded database'),
      );
      void this.end();
    }, 2 * this.busyTimeoutMs);
  }

  private stopIdleTimer(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
  }

  private letGo(): void {
    this.stopIdleTimer();
    const release = this.release;
    this.release = null;
    release?.();
  }

  private async cleanUp(): Promise<void> {
    try {
      if (this.release) {
        // Left mid-transaction (or mid-sequence): nothing of it may stay open in the shared session.
        await this.db.runExclusive(() =>
          this.db.execProtocolRaw(Buffer.concat([SYNC, simpleQuery('ROLLBACK')])),
        );
      }
      if (this.prepared.size > 0) {
        if (!this.release) this.release = await this.acquire();
        if (this.release)
          await this.db.runExclusive(() => this.db.execProtocolRaw(closeStatements(this.prepared)));
      }
    } finally {
      this.letGo();
    }
  }
}
