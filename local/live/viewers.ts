import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** One Server-Sent Events frame, encoded once and written as is to every viewer it goes to. */
export interface Frame {
  seq: number;
  data: Buffer;
}

export interface ViewerStatus {
  id: string;
  /** Frames written to the viewer's socket, and frames it was not sent because it was behind. */
  sent: number;
  dropped: number;
  /** Bytes written that the viewer has not acknowledged yet (at most the window, plus one frame). */
  unackedBytes: number;
}

/**
 * A browser watching the live view, with a bounded buffer: at most `windowBytes` of frames it has
 * not acknowledged yet (the page posts the id of the last frame it handled). A frame that would
 * pass the window, or that comes while the socket holds more than a window it could not pass on
 * (the kernel's buffers are full: the reader is not reading), is dropped and counted, never
 * queued: what a slow viewer costs the process is bounded, and nothing upstream waits for it.
 * The kernel alone would hide a stalled reader for megabytes, so the window is counted in what
 * the page confirms, not in what the socket took. A viewer that dropped frames is sent the whole
 * state again once it has caught up (that frame alone is not counted: it may be larger than the
 * window). Per viewer, the process holds at most about two windows and one state frame.
 */
export class Viewer {
  readonly id = randomUUID();
  sent = 0;
  dropped = 0;
  /** Set by a drop; cleared when the hub sends the state again. */
  needsResync = false;
  private readonly inFlight: Array<{ seq: number; bytes: number }> = [];
  private unackedBytes = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly windowBytes: number,
  ) {}

  /** Bytes written that the socket has not passed to the kernel (frames of this tick, or a full kernel buffer). */
  private get stuck(): boolean {
    return this.res.writableLength > this.windowBytes;
  }

  /**
   * `outsideWindow`: the state sent to a viewer that has caught up (or just connected), which may
   * be larger than the window; counting it would drop the next frames and start the resync over.
   */
  send(frame: Frame, outsideWindow = false): boolean {
    // An empty window always takes one frame, so a frame larger than the window still gets through.
    if (this.stuck || (!outsideWindow && this.unackedBytes > 0 && this.unackedBytes + frame.data.length > this.windowBytes)) {
      this.dropped++;
      this.needsResync = true;
      return false;
    }
    if (!outsideWindow) {
      this.inFlight.push({ seq: frame.seq, bytes: frame.data.length });
      this.unackedBytes += frame.data.length;
    }
    this.sent++;
    this.res.write(frame.data);
    return true;
  }

  /** The page handled every frame up to `seq` (frames are numbered in the order they are made). */
  ack(seq: number): void {
    while (this.inFlight.length > 0 && this.inFlight[0]!.seq <= seq) this.unackedBytes -= this.inFlight.shift()!.bytes;
  }

  get caughtUp(): boolean {
    return this.unackedBytes === 0 && this.res.writableLength === 0;
  }

  status(): ViewerStatus {
    return { id: this.id, sent: this.sent, dropped: this.dropped, unackedBytes: this.unackedBytes };
  }

  /** Ends the stream; a viewer that is not reading would hold the socket open, so it is cut. */
  close(): void {
    if (this.stuck) this.res.destroy();
    else this.res.end();
  }
}

/** The viewers of one server, and the frames they are sent. */
export class Hub {
  private seq = 0;
  private readonly viewers = new Map<string, Viewer>();

  constructor(readonly windowBytes: number) {}

  /** Makes one frame (numbered, JSON data on one line: JSON.stringify escapes newlines). */
  frame(event: string, data: unknown): Frame {
    const seq = ++this.seq;
    return { seq, data: Buffer.from(`id: ${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`) };
  }

  /** Encodes once and offers the same bytes to every viewer; each one keeps or drops them. */
  broadcast(event: string, data: unknown): void {
    if (this.viewers.size === 0) return;
    const frame = this.frame(event, data);
    for (const v of this.viewers.values()) v.send(frame);
  }

  /** The whole state, to one viewer that has nothing unacknowledged (outside its window, see Viewer.send). */
  sendState(viewer: Viewer, data: unknown): void {
    viewer.send(this.frame('state', data), true);
  }

  sendTo(viewer: Viewer, event: string, data: unknown): void {
    viewer.send(this.frame(event, data));
  }

  /** Answers GET /live with an event stream and registers its viewer until the connection closes. */
  open(req: IncomingMessage, res: ServerResponse): Viewer {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write('retry: 2000\n\n');
    const viewer = new Viewer(res, this.windowBytes);
    this.viewers.set(viewer.id, viewer);
    req.socket.setNoDelay(true);
    res.on('close', () => this.viewers.delete(viewer.id));
    return viewer;
  }

  get(id: string): Viewer | undefined {
    return this.viewers.get(id);
  }

  all(): Viewer[] {
    return [...this.viewers.values()];
  }

  closeAll(): void {
    for (const v of this.viewers.values()) v.close();
  }
}
