-- Arithmetic the aggregates share on both engines (continuous aggregates, rollup tables, OEE,
-- views), written so that no valid reading can make it fail: one series must never stop the
-- maintenance or refresh of all the others (docs/warehouse.md, "Overflow").

-- SQL-standard bodies (RETURN ...) are resolved when created, so they also work under the fixed
-- search_path TimescaleDB refreshes with.

-- numeric -> float8 that saturates instead of failing: beyond float8's range +/-Infinity, NaN NULL.
-- (A plain cast raises "out of range", and float8 sums raise "value out of range: overflow".)
CREATE FUNCTION warehouse_float8(x numeric) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN x IS NULL OR x = 'NaN'::numeric THEN NULL
       WHEN x >= 1.7976931348623158e308 THEN 'Infinity'::float8
       WHEN x <= -1.7976931348623158e308 THEN '-Infinity'::float8
       ELSE x::float8 END;

-- A split sum: `small` is the float8 sum of the terms below 1e280 in magnitude (it cannot
-- overflow: that would take 1e28 terms), `big` the exact numeric sum of the others (NULL when there
-- are none, the usual case, which then costs nothing over a plain float8 sum).
CREATE FUNCTION warehouse_sum(small double precision, big numeric) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN big IS NULL THEN small ELSE warehouse_float8(coalesce(small::numeric, 0) + big) END;

-- The average of a split sum over n terms: finite whenever the terms are (clamped to float8's
-- range, which a numeric division rounding up at the very edge could otherwise leave).
CREATE FUNCTION warehouse_avg(small double precision, big numeric, n numeric) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN n IS NULL OR n = 0 THEN NULL
       WHEN big IS NULL THEN small / n::float8
       ELSE warehouse_float8(greatest(-1.7976931348623157e308,
              least(1.7976931348623157e308, (coalesce(small::numeric, 0) + big) / n))) END;

-- Counter semantics (value_kind = 'counter'; docs/warehouse.md, "Counters"): the rise from one
-- reading to the next is the difference when the counter went up; 0 when it dropped (a reset: the
-- rises after it count again) and 0 when the two readings are more than the look-back (1 hour)
-- apart (the later one is a new baseline). OEE's units packaged and every grain's `increase` are
-- sums of exactly this.
--
-- warehouse_counter_rise(seg_rise, first_v, first_ts, last_v, last_ts ORDER BY first_ts): the sum
-- of the rises between consecutive readings of ordered segments. A raw row is a segment of one
-- reading (NULL, v, ts, v, ts); a bucket is a segment with its own inner rise and its first and
-- last readings, so coarser grains combine finer ones without a window function (which continuous
-- aggregates do not allow). Segments without a numeric reading are skipped. The sum saturates at
-- +Infinity. The step is PL/pgSQL with nothing but built-ins: it runs per row, under the fixed
-- search_path TimescaleDB refreshes with; state = {rise, last value, last time as epoch seconds}.
CREATE FUNCTION warehouse_counter_step(s double precision[], seg_rise double precision,
  first_v double precision, first_ts timestamptz, last_v double precision, last_ts timestamptz)
RETURNS double precision[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  rise double precision := greatest(coalesce(seg_rise, 0), 0);
  gap double precision := 0;
  total numeric;
BEGIN
  IF first_v IS NULL OR last_v IS NULL OR first_ts IS NULL OR last_ts IS NULL THEN
    RETURN s;
  END IF;
  IF s IS NULL THEN
    RETURN ARRAY[rise, last_v, extract(epoch FROM last_ts)];
  END IF;
  -- beyond 1e300 the arithmetic is exact numeric (float8 would raise on overflow), saturated
  IF first_v > s[2] AND extract(epoch FROM first_ts) - s[3] <= 3600 THEN
    IF abs(first_v) < 1e300 AND abs(s[2]) < 1e300 THEN
      gap := first_v - s[2];
    ELSE
      total := first_v::text::numeric - s[2]::text::numeric;
      gap := CASE WHEN total >= 1.7976931348623158e308 THEN 'Infinity' ELSE total::double precision END;
    END IF;
  END IF;
  IF s[1] < 1e300 AND rise < 1e300 AND gap < 1e300 THEN
    rise := s[1] + rise + gap;
  ELSE
    total := s[1]::text::numeric + rise::text::numeric + gap::text::numeric;
    rise := CASE WHEN total >= 1.7976931348623158e308 THEN 'Infinity' ELSE total::double precision END;
  END IF;
  RETURN ARRAY[rise, last_v, extract(epoch FROM last_ts)];
END $$;

CREATE FUNCTION warehouse_counter_final(s double precision[]) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN s[1];

CREATE AGGREGATE warehouse_counter_rise(double precision, double precision, timestamptz, double precision, timestamptz) (
  SFUNC = warehouse_counter_step,
  STYPE = double precision[],
  FINALFUNC = warehouse_counter_final
);

-- Retention that never erases an aggregate (issue: raising retention after a shorter one).
-- dropped_before: rows of the grain before this time may already be gone, dropped under an
-- earlier, shorter setting (or, on plain PostgreSQL, by the last maintenance run). Nothing older
-- is ever folded into a coarser grain again: a refresh over dropped input deletes its buckets.
ALTER TABLE warehouse_retention ADD COLUMN dropped_before timestamptz;

-- The oldest time whose rows of `p_grain` are still folded into the grains built on it: an hour
-- inside the grain's retention (a refresh and a drop running at the same time never meet), and
-- never before dropped_before. '-infinity' when the grain is kept forever and nothing was dropped.
CREATE FUNCTION warehouse_fold_from(p_grain text, p_now timestamptz DEFAULT now()) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (SELECT greatest(coalesce(p_now - make_interval(days => r.keep_days) + INTERVAL '1 hour', '-infinity'::timestamptz),
                        coalesce(r.dropped_before, '-infinity'::timestamptz))
        FROM warehouse_retention r WHERE r.grain = p_grain);

-- The oldest event time ingest should accept: readings older than this would reach no aggregate
-- (or be dropped again soon). 10 minutes inside the fold window, so an accepted reading is still
-- inside it when the next refresh or maintenance run comes. TimescaleDB replaces this function
-- (0008) to also stay inside the 1min refresh policy's window.
CREATE FUNCTION warehouse_ingest_horizon(p_now timestamptz DEFAULT now()) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
RETURN warehouse_fold_from('raw', p_now) + INTERVAL '10 minutes';

-- Records the floor of the setting it replaces, so a later, longer setting does not reach into
-- what the shorter one dropped: with 1-day chunks / daily partitions (UTC), everything from the
-- start of the day holding the old horizon is still there. On TimescaleDB it then brings the
-- policies in line (warehouse_apply_policies, 0008): only what the setting changes is altered.
DROP FUNCTION warehouse_set_retention(text, integer);
CREATE FUNCTION warehouse_set_retention(p_grain text, p_days integer, p_now timestamptz DEFAULT now()) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  old_days integer;
BEGIN
  SELECT keep_days INTO old_days FROM warehouse_retention WHERE grain = p_grain FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown grain "%": expected raw, 1min, 1h or 1day', p_grain USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE warehouse_retention
  SET dropped_before = CASE WHEN old_days IS NULL THEN dropped_before
        ELSE greatest(dropped_before, date_bin(INTERVAL '1 day', p_now - make_interval(days => old_days), TIMESTAMPTZ '2000-01-01 00:00:00+00')) END,
      keep_days = p_days,
      updated_at = now()
  WHERE grain = p_grain AND keep_days IS DISTINCT FROM p_days;
  PERFORM warehouse_check_retention();
  IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'warehouse_apply_policies') THEN
    PERFORM warehouse_apply_policies(true, p_now);
  END IF;
END $$;
