-- OEE snapshots and the BI model (dimensions + fact views), the same on both engines: the views
-- read telemetry_1min/1h/1day whether they are continuous aggregates or rollup tables.

-- Equipment dimension: one row per unit; ideal_rate_per_min is OEE performance's reference rate.
CREATE TABLE dim_equipment (
  source             text             PRIMARY KEY,
  equipment_name     text             NOT NULL,
  equipment_kind     text             NOT NULL,
  ideal_rate_per_min double precision NOT NULL CHECK (ideal_rate_per_min > 0)
);
INSERT INTO dim_equipment (source, equipment_name, equipment_kind, ideal_rate_per_min)
SELECT 'FBE_' || lpad(n::text, 2, '0'), 'Fermentation/brewing unit ' || lpad(n::text, 2, '0'), 'brewing_unit', 120
FROM generate_series(1, 11) AS n;

-- Variable dimension: every fact the units report.
CREATE TABLE dim_variable (
  fact_name   text PRIMARY KEY,
  description text NOT NULL,
  unit        text NOT NULL,
  value_kind  text NOT NULL CHECK (value_kind IN ('numeric', 'counter', 'boolean', 'state'))
);
INSERT INTO dim_variable (fact_name, description, unit, value_kind) VALUES
  ('temperature_c',  'Vessel temperature',                                 '°C',    'numeric'),
  ('setpoint_c',     'Temperature setpoint',                               '°C',    'numeric'),
  ('pressure_bar',   'Vessel pressure',                                    'bar',   'numeric'),
  ('level_pct',      'Vessel fill level',                                  '%',     'numeric'),
  ('flow_lpm',       'Flow through the unit',                              'L/min', 'numeric'),
  ('ph',             'pH of the wort/beer',                                'pH',    'numeric'),
  ('gravity_sg',     'Specific gravity',                                   'SG',    'numeric'),
  ('agitator_rpm',   'Agitator speed',                                     'rpm',   'numeric'),
  ('packaged_total', 'Units packaged since the counter started (cumulative)', 'units', 'counter'),
  ('packaged_good',  'Good units packaged since the counter started (cumulative, <= total)', 'units', 'counter'),
  ('pump_running',   'Pump running (1) or stopped (0)',                    'bool',  'boolean'),
  ('valve_open',     'Valve open (1) or closed (0)',                       'bool',  'boolean'),
  ('state',          'Process state: idle, mashing, boiling, fermenting, cleaning', 'state', 'state');

-- OEE per unit per 5-minute interval (ts = interval start); formulas in docs/warehouse.md and
-- layers/core/src/warehouse/oee.ts. Recomputed when late rows touch an interval: (source, ts) is
-- the key, so maintenance upserts and reruns never duplicate.
CREATE TABLE oee_snapshots (
  ts               timestamptz      NOT NULL,
  source           text             NOT NULL,
  availability_pct double precision NOT NULL CHECK (availability_pct BETWEEN 0 AND 100),
  performance_pct  double precision CHECK (performance_pct BETWEEN 0 AND 100),
  quality_pct      double precision CHECK (quality_pct BETWEEN 0 AND 100),
  oee_pct          double precision CHECK (oee_pct BETWEEN 0 AND 100),
  computed_at      timestamptz      NOT NULL DEFAULT now(),
  CONSTRAINT oee_snapshots_key UNIQUE (source, ts)
);
CREATE INDEX oee_snapshots_ts_idx ON oee_snapshots (ts DESC);

-- Fact views for BI tools: one per grain, the aggregate joined to both dimensions (LEFT JOIN, so
-- a unit or fact missing from a dimension still shows, with NULL labels).
CREATE VIEW fact_telemetry_1min AS
SELECT t.bucket, t.source, e.equipment_name, e.equipment_kind, t.fact_name, v.description AS variable_description,
       v.unit, v.value_kind, t.sample_count, t.value_avg, t.value_min, t.value_max, t.last_value, t.last_str
FROM telemetry_1min t
LEFT JOIN dim_equipment e ON e.source = t.source
LEFT JOIN dim_variable v ON v.fact_name = t.fact_name;

CREATE VIEW fact_telemetry_1h AS
SELECT t.bucket, t.source, e.equipment_name, e.equipment_kind, t.fact_name, v.description AS variable_description,
       v.unit, v.value_kind, t.sample_count, t.value_avg, t.value_min, t.value_max, t.last_value, t.last_str
FROM telemetry_1h t
LEFT JOIN dim_equipment e ON e.source = t.source
LEFT JOIN dim_variable v ON v.fact_name = t.fact_name;

CREATE VIEW fact_telemetry_1day AS
SELECT t.bucket, t.source, e.equipment_name, e.equipment_kind, t.fact_name, v.description AS variable_description,
       v.unit, v.value_kind, t.sample_count, t.value_avg, t.value_min, t.value_max, t.last_value, t.last_str
FROM telemetry_1day t
LEFT JOIN dim_equipment e ON e.source = t.source
LEFT JOIN dim_variable v ON v.fact_name = t.fact_name;
