import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { View } from './view.ts';

export const HOST = '127.0.0.1';
/** More would be a leak (a script reconnecting in a loop), not people watching. */
const MAX_VIEWERS = 100;

export interface ViewServer {
  url: string;
  port: number;
  /** The port asked for was taken, so the system chose `port`. */
  portWasBusy: boolean;
  close(): Promise<void>;
}

interface Asset {
  type: string;
  body: Buffer;
}

/** The page and its one library, read once: uPlot comes from node_modules, nothing from a CDN. */
function assets(): Map<string, Asset> {
  const page = join(dirname(fileURLToPath(import.meta.url)), 'page');
  const uplot = dirname(createRequire(import.meta.url).resolve('uplot'));
  const file = (path: string, type: string): Asset => ({ type, body: readFileSync(path) });
  return new Map([
    ['/', file(join(page, 'index.html'), 'text/html; charset=utf-8')],
    ['/app.js', file(join(page, 'app.js'), 'text/javascript; charset=utf-8')],
    ['/app.css', file(join(page, 'app.css'), 'text/css; charset=utf-8')],
    ['/vendor/uPlot.iife.min.js', file(join(uplot, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8')],
    ['/vendor/uPlot.min.css', file(join(uplot, 'uPlot.min.css'), 'text/css; charset=utf-8')],
  ]);
}

/**
 * Serves the page, its event stream (GET /live), acknowledgements (POST /ack) and one series'
 * history from memory (GET /api/series) on 127.0.0.1 only. Requests naming another host are
 * refused, so a web page elsewhere cannot reach the view through DNS rebinding.
 */
export async function serveView(view: View, port: number): Promise<ViewServer> {
  const files = assets();
  let allowedHosts = new Set<string>();
  const server = createServer((req, res) => {
    if (!allowedHosts.has(req.headers.host ?? '')) return reply(res, 421, 'text/plain', 'this server answers on 127.0.0.1 only\n');
    const url = new URL(req.url ?? '/', 'http://local');
    const asset = req.method === 'GET' ? files.get(url.pathname) : undefined;
    if (asset) return reply(res, 200, asset.type, asset.body);
    if (req.method === 'GET' && url.pathname === '/live') {
      if (view.hub.all().length >= MAX_VIEWERS) return reply(res, 503, 'text/plain', `at most ${MAX_VIEWERS} viewers\n`);
      return view.welcome(view.hub.open(req, res));
    }
    if (req.method === 'POST' && url.pathname === '/ack') return acknowledge(view, url, req, res);
    if (req.method === 'GET' && url.pathname === '/api/series') return json(res, view.series(url.searchParams.get('key') ?? ''));
    if (req.method === 'GET' && url.pathname === '/api/viewers')
      return json(
        res,
        view.hub.all().map((v) => v.status()),
      );
    reply(res, 404, 'text/plain', 'not found\n');
  });
  let portWasBusy = false;
  try {
    await listen(server, port);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw e;
    portWasBusy = true;
    await listen(server, 0);
  }
  const actual = (server.address() as AddressInfo).port;
  allowedHosts = new Set([`${HOST}:${actual}`, `localhost:${actual}`]);
  return {
    url: `http://${HOST}:${actual}/`,
    port: actual,
    portWasBusy,
    close: () =>
      new Promise<void>((ok) => {
        // Ended streams flush their last frames (the summary) before their sockets close; a
        // viewer that is not reading is cut after a moment.
        server.close(() => ok());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1_000).unref();
      }),
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, HOST, () => {
      server.off('error', fail);
      ok();
    });
  });
}

function acknowledge(view: View, url: URL, req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const viewer = view.hub.get(url.searchParams.get('viewer') ?? '');
  const seq = Number(url.searchParams.get('seq'));
  if (!viewer || !Number.isSafeInteger(seq)) return reply(res, 404, 'text/plain', 'no such viewer\n');
  viewer.ack(seq);
  res.writeHead(204).end();
}

function json(res: ServerResponse, body: unknown): void {
  reply(res, 200, 'application/json', JSON.stringify(body));
}

function reply(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }).end(body);
}
