import { connect, createServer, type Server, type Socket } from 'node:net';

/** What the proxy does with connections: pass them through, refuse them, or swallow them silently. */
export type ProxyMode = 'open' | 'refuse' | 'blackhole';

/**
 * A TCP proxy between a client pool and a real server (default 127.0.0.1:5432) that cuts the server off
 * on demand without touching it: `refuse` resets every new connection at once, `blackhole` accepts and
 * never answers (the client's connect timeout fires), and `cut()` also kills every open connection.
 *
 * @example
 * const proxy = await tcpProxy();
 * const pool = new pg.Pool({ host: '127.0.0.1', port: proxy.port, database, connectionTimeoutMillis: 1000 });
 * proxy.cut('refuse'); // ... proxy.restore();
 */
export interface TcpProxy {
  readonly port: number;
  readonly mode: ProxyMode;
  /** Connections accepted so far (any mode). */
  readonly accepted: number;
  /** Sets the mode for new connections and destroys every connection open now. */
  cut(mode?: Exclude<ProxyMode, 'open'>): void;
  restore(): void;
  close(): Promise<void>;
}

export async function tcpProxy(target = { host: '127.0.0.1', port: 5432 }): Promise<TcpProxy> {
  let mode: ProxyMode = 'open';
  let accepted = 0;
  const open = new Set<Socket>();
  const track = (s: Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => s.destroy());
  };
  const server: Server = createServer((client) => {
    accepted++;
    track(client);
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'blackhole') return; // held open, never answered, destroyed by restore() or close()
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('proxy has no port');
  const killAll = () => {
    for (const s of open) s.destroy();
    open.clear();
  };
  return {
    port: address.port,
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    cut(to = 'refuse') {
      mode = to;
      killAll();
    },
    restore() {
      mode = 'open';
      killAll(); // blackholed sockets end too
    },
    close() {
      killAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
