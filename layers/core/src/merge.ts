import type { Readings } from './ingest/readings.ts';
import { encodeSamples, minuteOf } from './reading.ts';
import { numericOf, storedTs, type FactValue } from './record.ts';

/**
 * One row per (source, fact, minute) per batch: the last write wins by event time, and
 * count/min/max/avg keep what happened inside the batch so that a spike between two ordinary
 * readings is not lost. A row never crosses a minute boundary, so every grain of the warehouse is
 * exact at its edges, and a reading's row is found in its own minute (see reading.ts).
 */
export interface MergedRow {
  source: string;
  fact: string;
  /** The newest sample's event time, as PostgreSQL gets it (storedTs). */
  ts: string;
  tsUs: number;
  eventId: string;
  value: FactValue;
  count: number;
  /** Samples that are numbers or booleans: min/max/avg are over these (booleans as 0/1). */
  numericCount: number;
  min: number | null;
  max: number | null;
  avg: number | null;
  /** encodeSamples of every sample when there is more than one, else null (the row is its sample). */
  samples: Buffer | null;
}

/** 8 KB of sample identities per row at most: a busier series-minute gets several rows. */
export const MAX_SAMPLES_PER_ROW = 1_000;

interface Accumulator {
  /** The newest reading's index. */
  winner: number;
  minuteUs: number;
  count: number;
  numeric: number;
  mean: number;
  min: number;
  max: number;
  /** Where its samples start in the batch's sample columns (filled once every row's count is known), and how many are in. */
  start: number;
  filled: number;
}

/**
 * Merges the readings at `indexes` (of distinct identities: ingest removes duplicates first). A
 * row's samples (offset from its minute, fingerprint) go to two columns for the whole batch, each
 * row's a slice, once every row's count is known: an array per row grown by push was a tenth of
 * what ingest allocated per batch.
 */
export function mergeReadings(readings: Readings, indexes: ArrayLike<number>, maxSamplesPerRow = MAX_SAMPLES_PER_ROW): MergedRow[] {
  const { tsUs, fp, numeric, series } = readings;
  // Per series, per minute: numbers as keys, no key text per reading.
  const open = new Map<string, Map<number, Accumulator>>();
  /** Rows in the order they are made: a full one when it fills, the others at the end. */
  const made: Accumulator[] = [];
  const rowOf = new Array<Accumulator>(indexes.length);
  for (let k = 0; k < indexes.length; k++) {
    const i = indexes[k]!;
    const t = tsUs[i]!;
    const minuteUs = minuteOf(t);
    let minutes = open.get(series[i]!);
    if (!minutes) open.set(series[i]!, (minutes = new Map<number, Accumulator>()));
    let acc = minutes.get(minuteUs);
    if (acc && acc.count >= maxSamplesPerRow) {
      made.push(acc);
      acc = undefined;
    }
    if (!acc) {
      acc = { winner: i, minuteUs, count: 0, numeric: 0, mean: 0, min: Infinity, max: -Infinity, start: 0, filled: 0 };
      minutes.set(minuteUs, acc);
    } else if (t > tsUs[acc.winner]!) {
      acc.winner = i;
    }
    acc.count++;
    rowOf[k] = acc;
    const n = numeric[i]!;
    if (!Number.isNaN(n)) {
      acc.numeric++;
      // Running mean: a plain sum overflows near the float8 limits, and so does n - mean when the
      // two have opposite signs near them; n/k - mean/k cannot (each term is at most max/2 for k >= 2).
      const step = n - acc.mean;
      acc.mean += Number.isFinite(step) ? step / acc.numeric : n / acc.numeric - acc.mean / acc.numeric;
      if (n < acc.min) acc.min = n;
      if (n > acc.max) acc.max = n;
    }
  }
  for (const minutes of open.values()) for (const acc of minutes.values()) made.push(acc);
  let start = 0;
  for (const acc of made) {
    acc.start = start;
    start += acc.count;
  }
  const offsets = new Uint32Array(indexes.length);
  const fps = new Uint32Array(indexes.length);
  for (let k = 0; k < indexes.length; k++) {
    const acc = rowOf[k]!;
    const at = acc.start + acc.filled++;
    const i = indexes[k]!;
    offsets[at] = tsUs[i]! - acc.minuteUs;
    fps[at] = fp[i]!;
  }
  return made.map((acc) => row(readings, acc, offsets.subarray(acc.start, acc.start + acc.count), fps.subarray(acc.start, acc.start + acc.count)));
}

/** Raw mode: every reading at `indexes` becomes its own row (for users who need every sample). */
export function rawRows(readings: Readings, indexes: ArrayLike<number>): MergedRow[] {
  const rows: MergedRow[] = [];
  for (let k = 0; k < indexes.length; k++) {
    const i = indexes[k]!;
    const { source, fact, ts, id, value } = readings.record(i);
    const t = readings.tsUs[i]!;
    const n = numericOf(value);
    rows.push({ source, fact, ts: storedTs(ts, t), tsUs: t, eventId: id, value, count: 1, numericCount: n === null ? 0 : 1, min: n, max: n, avg: n, samples: null });
  }
  return rows;
}

function row(readings: Readings, acc: Accumulator, offsets: Uint32Array, fps: Uint32Array): MergedRow {
  const hasNumbers = acc.numeric > 0;
  const { source, fact, ts, id, value } = readings.record(acc.winner);
  const tsUs = readings.tsUs[acc.winner]!;
  return {
    source,
    fact,
    ts: storedTs(ts, tsUs),
    tsUs,
    eventId: id,
    value,
    count: acc.count,
    numericCount: acc.numeric,
    min: hasNumbers ? acc.min : null,
    max: hasNumbers ? acc.max : null,
    avg: hasNumbers ? acc.mean : null,
    samples: acc.count > 1 ? encodeSamples(offsets, fps) : null,
  };
}
