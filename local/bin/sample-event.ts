import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { KinesisStreamEvent } from 'aws-lambda';
import { aggregate } from '#core/kpl/aggregate';
import { encodeRecord } from '#core/record';
import { createBrewery } from '#core/simulator/brewery';
import { openCliDatabase } from '../cli/database.ts';
import { dataDir, dataDirHolder, shown } from '../cli/dataDir.ts';
import { integer, note, runCommand } from '../cli/run.ts';
import { DEFAULT_SHARD, DEFAULT_FIRST_SEQUENCE, kinesisEvent } from '../events/kinesisEvent.ts';

const USAGE = `npm run --silent sample-event -- [--count 20] [--with-invalid] [--aggregate] [--seed 7] [--data-dir DIR] > event.json
Prints a fresh AWS-shaped Kinesis event for \`npm run invoke -- ingest\`: simulator readings stamped
now (a committed file would fall out of ingest's 7-day validity window), with sequence numbers past
every checkpoint of the database invoke uses (DATABASE_URL, else the one kept in DIR, default
.tapline/local), so ingest takes them as new records, not as Lambda redelivering a committed batch.
--with-invalid adds two bad records (not JSON, not base64) for the dead-letter path; --aggregate
packs the readings into KPL aggregated records, as the simulator puts them. The other handlers'
sample events are files in local/events/.`;

/** Sequence numbers of one shard grow by at least this much between records, as Kinesis's do. */
const STEP = 1_000n;

runCommand(
  {
    usage: USAGE,
    options: {
      count: { type: 'string' },
      'with-invalid': { type: 'boolean', default: false },
      aggregate: { type: 'boolean', default: false },
      seed: { type: 'string' },
      'data-dir': { type: 'string' },
    },
  },
  async ({ values: args }) => {
    const count = integer('count', args.count, { min: 1, max: 10_000, fallback: 20 });
    const seed = integer('seed', args.seed, { min: -(2 ** 31), max: 2 ** 31 - 1, fallback: 7 });
    const firstSequence = await sequencePastCheckpoints(args['data-dir']);
    const readings = createBrewery({ seed }).next(Date.now(), count);
    const bad = args['with-invalid'] ? [Buffer.from('not json at all').toString('base64'), '%%%not-base64%%%'] : [];
    const event = args.aggregate
      ? aggregatedEvent(
          readings.map((r) => ({ partitionKey: r.source, data: encodeRecord(r) })),
          bad,
          firstSequence,
        )
      : kinesisEvent([...readings, ...bad], { firstSequence });
    process.stdout.write(`${JSON.stringify(event, null, 2)}\n`);
    return 0;
  },
);

/** One Kinesis record per aggregate (its partition key: its readings' source), then the bad ones. */
function aggregatedEvent(records: Array<{ partitionKey: string; data: Uint8Array }>, bad: string[], firstSequence: bigint): KinesisStreamEvent {
  const aggregates = aggregate(records);
  const event = kinesisEvent([...aggregates.map((a) => a.data), ...bad], { firstSequence });
  aggregates.forEach((a, i) => (event.Records[i]!.kinesis.partitionKey = a.partitionKey));
  return event;
}

/**
 * Above the highest sequence number committed on the sample's shard, whatever the key: a record at
 * or below its key's checkpoint is a redelivery to ingest, and its dead letter, if any, one already
 * sent. No database yet: nothing is committed, the default numbers are new.
 */
async function sequencePastCheckpoints(dataDirFlag: string | undefined): Promise<bigint> {
  const dir = dataDir(dataDirFlag);
  if (!process.env.DATABASE_URL && !process.env.DB_SECRET_ARN && !process.env.DB_HOST && !existsSync(join(dir.pg, 'PG_VERSION')) && !dataDirHolder(dir)) {
    note(`database: none kept in ${shown(dir.pg)} yet: sequence numbers from the default`);
    return DEFAULT_FIRST_SEQUENCE;
  }
  const cli = await openCliDatabase(dataDirFlag, 'npm run sample-event');
  try {
    const { rows } = await cli.db.query<{ max: string | null }>('SELECT max(sequence)::text AS max FROM ingest_checkpoint WHERE shard_id = $1', [DEFAULT_SHARD]);
    const committed = rows[0]?.max ? BigInt(rows[0].max) : undefined;
    if (committed === undefined || committed < DEFAULT_FIRST_SEQUENCE) return DEFAULT_FIRST_SEQUENCE;
    note(`sequence numbers from ${committed + STEP}: past the highest checkpoint of ${DEFAULT_SHARD}`);
    return committed + STEP;
  } finally {
    await cli.close();
  }
}
