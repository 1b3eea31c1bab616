import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DerivedEvent } from '#core/events';
import { liveFeed } from '#core/liveFeed';
import type { MergedRow } from '#core/merge';
import { LiveState } from '../../local/live/liveState.ts';
import { Hub, type Viewer } from '../../local/live/viewers.ts';

const row = (source: string, fact: string, tsMs: number, value: MergedRow['value'], o: Partial<MergedRow> = {}): MergedRow => ({
  source,
  fact,
  ts: new Date(tsMs).toISOString(),
  tsUs: tsMs * 1000,
  eventId: `${source}-${fact}-${tsMs}`,
  value,
  count: 1,
  numericCount: typeof value === 'string' ? 0 : 1,
  min: typeof value === 'number' ? value : null,
  max: typeof value === 'number' ? value : null,
  avg: typeof value === 'number' ? value : null,
  samples: null,
  ...o,
});

const rule = (i: number): DerivedEvent => ({
  v: 1,
  kind: 'rule',
  id: String(i).padStart(32, '0'),
  ts: '2026-01-01T00:00:00.000Z',
  source: 'FBE_01',
  ruleId: 'r',
  rulesVersion: '1',
});

describe('LiveState: what the live view keeps of committed batches', () => {
  it('sends one point per series per tick: the newest value, min and max over every row, the samples summed', () => {
    const s = new LiveState();
    s.record({ rows: [row('FBE_01', 'temperature_c', 2_000, 20, { count: 3, min: 18, max: 25 }), row('FBE_01', 'state', 1_000, 'boiling')], events: [] });
    // A later batch can carry an older row (another shard): it widens min/max, it does not become the last value.
    s.record({ rows: [row('FBE_01', 'temperature_c', 1_500, 30, { count: 2, min: 17, max: 30 }), row('FBE_01', 'state', 3_000, 'cleaning')], events: [] });
    const { points } = s.flush();
    expect(points['FBE_01/temperature_c']).toEqual([2_000, 20, 17, 30, 5, null]);
    expect(points['FBE_01/state']).toEqual([3_000, null, null, null, 2, 'cleaning']);
    expect(s.flush().points).toEqual({});
    expect(s.tail('FBE_01/temperature_c')).toEqual([[2_000, 20, 17, 30, 5, null]]);
  });

  it('bounds what it holds: tail length, series count and events per tick (the rest counted)', () => {
    const s = new LiveState({ tailPoints: 3, maxSeries: 2, recentEvents: 4 });
    for (let t = 0; t < 5; t++) {
      s.record({ rows: [row('A', 'f', t, t), row('B', 'f', t, t), row('C', 'f', t, t)], events: [] });
      s.flush();
    }
    expect(s.tail('A/f').map((p) => p[0])).toEqual([2, 3, 4]);
    expect(s.seriesKeys()).toEqual(['A/f', 'B/f']);
    expect(s.seriesOmitted).toBe(5);

    s.record({ rows: [], events: [1, 2, 3, 4, 5, 6].map(rule) });
    const { events, eventsOmitted } = s.flush();
    expect(events).toHaveLength(4);
    expect(events[0]).toEqual({ kind: 'rule', id: rule(1).id, ts: rule(1).ts, source: 'FBE_01', ruleId: 'r' });
    expect(eventsOmitted).toBe(2);
    expect(s.recent()).toHaveLength(4);
  });
});

describe('liveFeed', () => {
  it('gives each batch to every subscriber; what a subscriber throws goes to its own handler, not to the publisher', () => {
    const seen: number[] = [];
    const errors: unknown[] = [];
    const offA = liveFeed.subscribe(
      () => {
        throw new Error('viewer bug');
      },
      (e) => errors.push(e),
    );
    const offB = liveFeed.subscribe(
      (b) => seen.push(b.rows.length),
      () => undefined,
    );
    expect(() => liveFeed.publish({ rows: [row('A', 'f', 1, 1)], events: [] })).not.toThrow();
    offA();
    offB();
    liveFeed.publish({ rows: [], events: [] });
    expect(seen).toEqual([1]);
    expect((errors[0] as Error).message).toBe('viewer bug');
  });
});

/** One turn of the event loop: what the response wrote this tick goes to the socket (or stays buffered). */
const passedToKernel = () => new Promise((ok) => setImmediate(ok));

describe('Hub and Viewer: a bounded buffer per viewer, over real sockets', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
    server = undefined;
  });

  /** A hub behind a real HTTP server, and a client that sends the request and then never reads. */
  async function stalledViewer(hub: Hub): Promise<Viewer> {
    const opened = new Promise<Viewer>((ok) => {
      server = createServer((req, res) => ok(hub.open(req, res)));
    });
    await new Promise<void>((ok) => server!.listen(0, '127.0.0.1', ok));
    const socket = connect((server!.address() as AddressInfo).port, '127.0.0.1');
    sockets.push(socket);
    socket.write('GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    socket.pause();
    return opened;
  }

  it('a viewer that does not acknowledge gets at most a window of frames; the rest are dropped and counted', async () => {
    const hub = new Hub(4_096);
    const viewer = await stalledViewer(hub);
    for (let i = 0; i < 100; i++) hub.broadcast('points', { filler: 'x'.repeat(500) });
    const s = viewer.status();
    expect(s.sent + s.dropped).toBe(100);
    expect(s.sent).toBeGreaterThan(0);
    expect(s.dropped).toBeGreaterThan(90);
    expect(s.unackedBytes).toBeLessThanOrEqual(4_096);
    expect(viewer.needsResync).toBe(true);

    // Once it acknowledges what it was sent, it has caught up and is sent frames again.
    viewer.ack(Number.MAX_SAFE_INTEGER);
    await passedToKernel();
    expect(viewer.caughtUp).toBe(true);
    hub.broadcast('points', { after: true });
    expect(viewer.status().sent).toBe(s.sent + 1);
  });

  it('a frame larger than the window still reaches a viewer that has acknowledged everything; the state is not counted at all', async () => {
    const hub = new Hub(1_024);
    const viewer = await stalledViewer(hub);
    hub.sendTo(viewer, 'points', { big: 'x'.repeat(10_000) });
    hub.sendTo(viewer, 'tick', {});
    expect(viewer.status()).toMatchObject({ sent: 1, dropped: 1 });

    // After a resync the state (larger than the window) must not hold back the frames after it.
    viewer.ack(Number.MAX_SAFE_INTEGER);
    await passedToKernel();
    hub.sendState(viewer, { big: 'x'.repeat(10_000) });
    await passedToKernel();
    hub.sendTo(viewer, 'tick', {});
    expect(viewer.status()).toMatchObject({ sent: 3, dropped: 1 });
  });

  it('a socket that stops draining drops frames even when they are acknowledged: the kernel is full, the rest waits in the process', async () => {
    const hub = new Hub(2 << 20);
    const viewer = await stalledViewer(hub);
    const frame = 'x'.repeat(1 << 20);
    for (let i = 0; i < 200 && viewer.status().dropped === 0; i++) {
      hub.broadcast('points', frame);
      viewer.ack(Number.MAX_SAFE_INTEGER); // as if the page had read it: only the socket holds it back
      await passedToKernel();
    }
    const s = viewer.status();
    expect(s.dropped).toBe(1);
    // The kernel took a few megabytes before the socket stopped draining.
    expect(s.sent).toBeGreaterThan(3);
    expect(viewer.caughtUp).toBe(false);
  });
});
