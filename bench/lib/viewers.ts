import { get, request, type ClientRequest } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface SseFrame {
  id: number;
  event: string;
  data: string;
}

export interface Watcher {
  /** Frames read so far, and the bytes they took. */
  frames: number;
  bytes: number;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

const ACK_EVERY_MS = 1_000;

/**
 * A viewer of the live view as the page is one, without a browser: reads GET /live and
 * acknowledges what it read (POST /ack) as the page does, within a second or once a quarter of the
 * window is unacknowledged, so the server never drops its frames unless it falls behind.
 */
export function watch(url: string, onFrame: (frame: SseFrame) => void = () => undefined): Watcher {
  let viewer = '';
  let windowBytes = 0;
  let unacked = 0;
  let lastSeq = 0;
  let acked = 0;
  let lastAckAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let pending = '';
  let req: ClientRequest | undefined;
  const w: Watcher = { frames: 0, bytes: 0, ended: Promise.resolve(), close: () => req?.destroy() };
  const acknowledge = () => {
    clearTimeout(timer);
    timer = undefined;
    if (!viewer || lastSeq <= acked) return;
    acked = lastSeq;
    lastAckAt = Date.now();
    unacked = 0;
    request(new URL(`/ack?viewer=${viewer}&seq=${lastSeq}`, url), { method: 'POST' }, (res) => res.resume())
      .on('error', () => undefined)
      .end();
  };
  w.ended = new Promise<void>((ended, failed) => {
    req = get(new URL('/live', url), (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        w.bytes += Buffer.byteLength(chunk);
        unacked += Buffer.byteLength(chunk);
        pending += chunk;
        let end: number;
        while ((end = pending.indexOf('\n\n')) >= 0) {
          const frame = parseFrame(pending.slice(0, end));
          pending = pending.slice(end + 2);
          if (!frame) continue;
          w.frames++;
          lastSeq = frame.id;
          if (frame.event === 'hello') ({ viewer, windowBytes } = JSON.parse(frame.data) as { viewer: string; windowBytes: number });
          onFrame(frame);
        }
        if (Date.now() - lastAckAt >= ACK_EVERY_MS || unacked >= windowBytes / 4) acknowledge();
        else timer ??= setTimeout(acknowledge, ACK_EVERY_MS);
      });
      res.on('end', () => {
        clearTimeout(timer);
        ended();
      });
      res.on('error', failed);
    });
    req.on('error', failed);
  });
  return w;
}

function parseFrame(block: string): SseFrame | undefined {
  const frame: SseFrame = { id: 0, event: 'message', data: '' };
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue; // a comment, or the retry line's blank
    const field = line.slice(0, colon);
    const value = line.slice(colon + 1).trimStart();
    if (field === 'id') frame.id = Number(value);
    else if (field === 'event') frame.event = value;
    else if (field === 'data') frame.data = value;
  }
  return frame.id > 0 ? frame : undefined;
}

/** Asks for the event stream and then never reads: the socket's buffers fill, nothing is acknowledged. */
export function stalledViewer(url: string): Socket {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.write(`GET /live HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
  socket.pause();
  return socket;
}
