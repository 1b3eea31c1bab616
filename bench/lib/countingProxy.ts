import { createServer, connect, type Server, type Socket } from 'node:net';
import { FrontendMessageCounter, type WireCounts } from './pgWire.ts';

export interface CountingProxy {
  port: number;
  /** Counts over every connection since the last reset. */
  counts(): WireCounts;
  reset(): void;
  stop(): Promise<void>;
}

/** A TCP proxy on 127.0.0.1 in front of PostgreSQL that counts the client's protocol messages. */
export async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  const counters: FrontendMessageCounter[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const counter = new FrontendMessageCounter();
    counters.push(counter);
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined); // the other side is closed below; nothing else to do
    }
    client.on('data', (chunk: Buffer) => {
      counter.push(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('counting proxy did not bind');
  return {
    port: address.port,
    counts() {
      const total: WireCounts = { byType: {}, queries: 0, maxQueryBytes: 0, pinning: [] };
      for (const { counts } of counters) {
        for (const [t, n] of Object.entries(counts.byType)) total.byType[t] = (total.byType[t] ?? 0) + n;
        total.queries += counts.queries;
        total.maxQueryBytes = Math.max(total.maxQueryBytes, counts.maxQueryBytes);
        total.pinning.push(...counts.pinning);
      }
      return total;
    },
    reset() {
      // Connections stay open in the pool: start their counts afresh rather than dropping them.
      for (const c of counters) Object.assign(c.counts, { byType: {}, queries: 0, maxQueryBytes: 0, pinning: [] });
    },
    stop() {
      for (const s of sockets) s.destroy();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
}
