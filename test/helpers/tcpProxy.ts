import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxyStats {
  /** Connections accepted and forwarded to the target. */
  connections: number;
  /** Connections that were open when the proxy went down and were cut. */
  cut: number;
  /** Connections accepted and reset at once while refusing. */
  refused: number;
}

export interface TcpProxy {
  port: number;
  /** `http://127.0.0.1:<port>`, for HTTP services (SQS, Kinesis emulators). */
  endpoint: string;
  stats: TcpProxyStats;
  /**
   * The target becomes unreachable: open connections are destroyed (the client sees a reset) and
   * the port stops listening (new connections are refused), as when a service or its host dies.
   */
  down(): Promise<void>;
  /**
   * Open connections are cut and every new one is accepted and reset at once (the client sees
   * ECONNRESET), so a fault can end on an event: `onRefused` sees each attempt's running count.
   */
  refuse(onRefused?: (attempt: number) => void): void;
  /** Listens again on the same port (after down) or stops refusing, and forwards as before. */
  up(): Promise<void>;
  /** Destroys every open connection but keeps accepting new ones (a proxy or NAT idle cut). */
  cutConnections(): number;
  isUp(): boolean;
  stop(): Promise<void>;
}

export interface TcpProxyOptions {
  targetHost?: string;
  targetPort: number;
  /** Sees every chunk the client sends, per connection (a wire tap, e.g. for PostgreSQL messages). */
  tap?: (connectionId: number, chunk: Buffer) => void;
}

/**
 * A toggleable TCP proxy on 127.0.0.1 in front of one of the local services. Faults are real
 * socket faults, so the clients' own error handling (SDK retries, pg reconnects) is what gets tested.
 */
export async function startTcpProxy(o: TcpProxyOptions): Promise<TcpProxy> {
  const host = o.targetHost ?? '127.0.0.1';
  const open = new Set<Socket>();
  const stats: TcpProxyStats = { connections: 0, cut: 0, refused: 0 };
  let nextId = 0;
  let up = true;
  let refusing: ((attempt: number) => void) | undefined;

  const onConnection = (client: Socket) => {
    if (refusing) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      refusing(++stats.refused);
      return;
    }
    const id = ++nextId;
    stats.connections++;
    const upstream = connect({ host, port: o.targetPort });
    open.add(client);
    open.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('data', (chunk: Buffer) => {
      o.tap?.(id, chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    for (const s of [client, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
  };

  const listen = (server: Server, port: number) =>
    new Promise<number>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, '127.0.0.1', () => {
        const addr = server.address();
        if (!addr || typeof addr === 'string') return fail(new Error('tcp proxy did not bind'));
        ok(addr.port);
      });
    });

  let server = createServer(onConnection);
  const port = await listen(server, 0);

  const cutConnections = () => {
    const n = open.size / 2;
    for (const s of open) s.destroy();
    open.clear();
    stats.cut += n;
    return n;
  };

  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    isUp: () => up,
    cutConnections,
    async down() {
      if (!up) return;
      up = false;
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      cutConnections();
      await closed;
    },
    refuse(onRefused = () => undefined) {
      refusing = onRefused;
      cutConnections();
    },
    async up() {
      refusing = undefined;
      if (up) return;
      server = createServer(onConnection);
      await listen(server, port);
      up = true;
    },
    async stop() {
      cutConnections();
      if (up) await new Promise<void>((ok) => server.close(() => ok()));
      up = false;
    },
  };
}
