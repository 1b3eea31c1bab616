import { createHash } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';

interface PutRecordsRequest {
  StreamName?: string;
  StreamARN?: string;
  Records: Array<{ Data: string; PartitionKey: string; ExplicitHashKey?: string }>;
}

type ResultEntry = { SequenceNumber: string; ShardId: string } | { ErrorCode: string; ErrorMessage: string };

interface PutRecordsResponse {
  FailedRecordCount?: number;
  Records: ResultEntry[];
  EncryptionType?: string;
}

export interface ThrottleStats {
  putRecordsCalls: number;
  /** Entries that arrived at the proxy, over all calls (a resent entry counts again). */
  entriesSeen: number;
  /** Entries answered with ProvisionedThroughputExceededException (never forwarded). */
  entriesThrottled: number;
  /** Entries forwarded to the emulator and accepted there. */
  entriesAccepted: number;
}

export interface KinesisThrottleProxy {
  endpoint: string;
  stats: ThrottleStats;
  stop(): Promise<void>;
}

/**
 * How many times the entry with this payload is refused before it is let through. The decision
 * depends on the payload, not on its position, so a resent entry is recognised whichever request
 * and index it comes back in.
 */
export type ThrottlePolicy = (data: Buffer) => number;

/** Refuses one entry in `every` once, and one in `2 * every` a second time: retries must converge. */
export const throttleSome =
  (every: number): ThrottlePolicy =>
  (data) => {
    const h = createHash('sha256').update(data).digest().readUInt32BE(0);
    if (h % (2 * every) === 0) return 2;
    return h % every === 0 ? 1 : 0;
  };

const TARGET_PUT_RECORDS = 'Kinesis_20131202.PutRecords';
const THROTTLED = {
  ErrorCode: 'ProvisionedThroughputExceededException',
  ErrorMessage: 'Rate exceeded for shard (injected by the fault harness).',
};

/**
 * An HTTP proxy in front of the Kinesis emulator that makes chosen PutRecords entries fail with
 * ProvisionedThroughputExceededException, as Kinesis does under load: the refused entries are
 * removed from the request before it is forwarded (a throttled entry is NOT written), and error
 * entries are spliced into the response at their original indexes. Everything else passes as is.
 */
export async function startKinesisThrottle(targetEndpoint: string, policy: ThrottlePolicy): Promise<KinesisThrottleProxy> {
  const target = new URL(targetEndpoint);
  const stats: ThrottleStats = { putRecordsCalls: 0, entriesSeen: 0, entriesThrottled: 0, entriesAccepted: 0 };
  const refusals = new Map<string, number>();

  const forward = (req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> =>
    new Promise((ok, fail) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      headers['content-length'] = String(body.length);
      headers.host = target.host;
      const out = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h[k] = v;
          ok({ status: res.statusCode ?? 500, headers: h, body: Buffer.concat(parts) });
        });
        res.on('error', fail);
      });
      out.on('error', fail);
      out.end(body);
    });

  const throttle = async (req: IncomingMessage, body: Buffer) => {
    const put = JSON.parse(body.toString('utf8')) as PutRecordsRequest;
    stats.putRecordsCalls++;
    stats.entriesSeen += put.Records.length;
    const refused = put.Records.map((r) => {
      const key = r.Data;
      const times = policy(Buffer.from(r.Data, 'base64'));
      const before = refusals.get(key) ?? 0;
      if (before >= times) return false;
      refusals.set(key, before + 1);
      return true;
    });
    const passed = put.Records.filter((_, i) => !refused[i]);
    let accepted: ResultEntry[] = [];
    let encryption: string | undefined;
    if (passed.length > 0) {
      const res = await forward(req, Buffer.from(JSON.stringify({ ...put, Records: passed })));
      if (res.status !== 200) return res; // a whole-request error passes through unchanged
      const parsed = JSON.parse(res.body.toString('utf8')) as PutRecordsResponse;
      accepted = parsed.Records;
      encryption = parsed.EncryptionType;
    }
    let k = 0;
    const results = put.Records.map((_, i): ResultEntry => (refused[i] ? THROTTLED : (accepted[k++] as ResultEntry)));
    const failed = results.filter((r) => 'ErrorCode' in r).length;
    stats.entriesThrottled += put.Records.length - passed.length;
    stats.entriesAccepted += results.length - failed;
    const response: PutRecordsResponse = { FailedRecordCount: failed, Records: results, ...(encryption ? { EncryptionType: encryption } : {}) };
    return {
      status: 200,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'fault-harness' },
      body: Buffer.from(JSON.stringify(response)),
    };
  };

  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const op = req.headers['x-amz-target'] === TARGET_PUT_RECORDS ? throttle(req, body) : forward(req, body);
      op.then(
        (out) => {
          res.writeHead(out.status, { ...out.headers, 'content-length': String(out.body.length) });
          res.end(out.body);
        },
        (e: unknown) => {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`fault harness: ${(e as Error).message}`);
        },
      );
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('kinesis throttle proxy did not bind');
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    stats,
    stop: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
