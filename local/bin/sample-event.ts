import { parseArgs } from 'node:util';
import { createBrewery } from '#core/simulator/brewery';
import { kinesisEvent } from '../events/kinesisEvent.ts';

/**
 * Prints a fresh AWS-shaped Kinesis event for `npm run invoke -- ingest`: simulator records stamped
 * now (a committed file would fall out of the 7-day validity window), plus optional bad records.
 */
const { values: args } = parseArgs({ options: { count: { type: 'string', default: '20' }, 'with-invalid': { type: 'boolean', default: false } } });
const records = createBrewery({ seed: 7 }).next(Date.now(), Number(args.count));
const bad = args['with-invalid'] ? [Buffer.from('not json at all').toString('base64'), '%%%not-base64%%%'] : [];
console.log(JSON.stringify(kinesisEvent([...records, ...bad]), null, 2));
