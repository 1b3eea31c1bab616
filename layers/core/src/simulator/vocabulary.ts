/**
 * The brewery fact vocabulary. The simulator produces exactly these names; rules, OEE and the
 * dimension tables key on them, so they live in one module others can import.
 */
export const BREW_STATES = ['idle', 'mashing', 'boiling', 'fermenting', 'cleaning'] as const;
export type BrewState = (typeof BREW_STATES)[number];

export const NUMERIC_FACTS = [
  'temperature_c',
  'setpoint_c',
  'pressure_bar',
  'level_pct',
  'flow_lpm',
  'ph',
  'gravity_sg',
  'agitator_rpm',
  'packaged_total',
  'packaged_good',
] as const;
export const BOOLEAN_FACTS = ['pump_running', 'valve_open'] as const;
export const STATE_FACT = 'state';

export type NumericFact = (typeof NUMERIC_FACTS)[number];
export type BooleanFact = (typeof BOOLEAN_FACTS)[number];
export type BreweryFact = NumericFact | BooleanFact | typeof STATE_FACT;
export const BREWERY_FACTS: readonly BreweryFact[] = [...NUMERIC_FACTS, ...BOOLEAN_FACTS, STATE_FACT];

export const MAX_UNITS = 11;
/** Ideal packaging rate, the OEE performance reference (units per minute per unit). */
export const IDEAL_PACKAGING_PER_MIN = 120;

/** FBE_01 .. FBE_11 */
export const unitSource = (index: number): string => `FBE_${String(index + 1).padStart(2, '0')}`;
