import type { FactValue } from '../record.ts';
import type { Random } from './random.ts';
import { IDEAL_PACKAGING_PER_MIN, type BreweryFact, type BrewState } from './vocabulary.ts';

/**
 * What a unit aims for in each state. Dwell times are compressed so a 30 s run sees transitions.
 * Its packaging line runs whenever the unit is not idle: OEE counts exactly that as run time.
 */
interface Profile {
  next: BrewState;
  dwellS: readonly [number, number];
  setpointC: number;
  pressureBar: number;
  levelPct: number;
  flowLpm: number;
  ph: number;
  rpm: number;
  pumpRunning: boolean;
  valveOpen: boolean;
  packaging: boolean;
}

const PROFILES: Record<BrewState, Profile> = {
  idle: { next: 'mashing', dwellS: [8, 20], setpointC: 15, pressureBar: 1.01, levelPct: 8, flowLpm: 0, ph: 7, rpm: 0, pumpRunning: false, valveOpen: false, packaging: false },
  mashing: {
    next: 'boiling',
    dwellS: [15, 35],
    setpointC: 65,
    pressureBar: 1.05,
    levelPct: 80,
    flowLpm: 120,
    ph: 5.4,
    rpm: 60,
    pumpRunning: true,
    valveOpen: true,
    packaging: true,
  },
  boiling: {
    next: 'fermenting',
    dwellS: [15, 35],
    setpointC: 100,
    pressureBar: 1.25,
    levelPct: 72,
    flowLpm: 0,
    ph: 5.3,
    rpm: 25,
    pumpRunning: false,
    valveOpen: false,
    packaging: true,
  },
  fermenting: {
    next: 'cleaning',
    dwellS: [40, 100],
    setpointC: 19,
    pressureBar: 1.4,
    levelPct: 70,
    flowLpm: 0,
    ph: 4.4,
    rpm: 0,
    pumpRunning: false,
    valveOpen: false,
    packaging: true,
  },
  cleaning: { next: 'idle', dwellS: [10, 20], setpointC: 80, pressureBar: 2, levelPct: 30, flowLpm: 200, ph: 12, rpm: 0, pumpRunning: true, valveOpen: true, packaging: true },
};

type Analog = 'temperature_c' | 'pressure_bar' | 'level_pct' | 'flow_lpm' | 'ph' | 'gravity_sg' | 'agitator_rpm';

/**
 * Each analog value relaxes towards its target (time constant tauS) with process noise sigma,
 * and is read with measurement noise. Flow and rpm noise is relative so a stopped pump reads 0.
 */
const DYNAMICS: Record<Analog, { tauS: number; sigma: number; noise: number; relative?: true; decimals: number; min: number; max: number }> = {
  temperature_c: { tauS: 4, sigma: 0.15, noise: 0.05, decimals: 2, min: -5, max: 130 },
  pressure_bar: { tauS: 3, sigma: 0.01, noise: 0.005, decimals: 3, min: 0, max: 6 },
  level_pct: { tauS: 6, sigma: 0.3, noise: 0.2, decimals: 1, min: 0, max: 100 },
  flow_lpm: { tauS: 0.5, sigma: 0.012, noise: 0.008, relative: true, decimals: 1, min: 0, max: 400 },
  ph: { tauS: 3, sigma: 0.01, noise: 0.01, decimals: 2, min: 0, max: 14 },
  gravity_sg: { tauS: 8, sigma: 0.0002, noise: 0.0002, decimals: 4, min: 0.99, max: 1.2 },
  agitator_rpm: { tauS: 1, sigma: 0.012, noise: 0.008, relative: true, decimals: 0, min: 0, max: 200 },
};
const ANALOGS = Object.keys(DYNAMICS) as Analog[];

/** One excursion at a time per unit, on average every EXCURSION_MEAN_INTERVAL_S seconds. */
const EXCURSION_MEAN_INTERVAL_S = 15;
const EXCURSION_DURATION_S: readonly [number, number] = [3, 6];
const GOOD_RATIO = 0.97;

interface Excursion {
  /** an analog value pushed by offset, or a valve stuck closed */
  fact: Analog | 'valve_open';
  offset: number;
  remainingS: number;
}

export class BrewUnit {
  state: BrewState;
  private dwellS: number;
  private remainingS: number;
  private setpointC: number;
  private originalGravity: number;
  private finalGravity: number;
  private readonly pv: Record<Analog, number>;
  private excursion: Excursion | undefined;
  private readonly packagingPerS: number;
  private packagingCarry = 0;
  // Counters start at 0 with each run, as a PLC's do after a restart: nothing carries state from one
  // invocation to the next, and OEE reads a drop as a counter reset.
  private packagedTotal = 0;
  private packagedGood = 0;

  constructor(
    readonly source: string,
    private readonly rng: Random,
  ) {
    this.state = rng.pick(Object.keys(PROFILES) as BrewState[]);
    const profile = PROFILES[this.state];
    this.dwellS = rng.between(...profile.dwellS);
    this.remainingS = rng.between(1, this.dwellS);
    this.originalGravity = rng.between(1.045, 1.06);
    this.finalGravity = rng.between(1.008, 1.012);
    this.setpointC = this.state === 'fermenting' ? rng.between(18, 20) : profile.setpointC;
    this.pv = Object.fromEntries(ANALOGS.map((a) => [a, this.target(a)])) as Record<Analog, number>;
    this.packagingPerS = (IDEAL_PACKAGING_PER_MIN * rng.between(0.85, 0.98)) / 60;
  }

  /** Advance the process by dtS seconds (callers keep dtS small, about a second or less). */
  advance(dtS: number): void {
    this.remainingS -= dtS;
    if (this.remainingS <= 0) this.enter(PROFILES[this.state].next);
    for (const a of ANALOGS) {
      const d = DYNAMICS[a];
      const target = this.target(a);
      const tau = this.state === 'fermenting' && (a === 'gravity_sg' || a === 'ph') ? this.dwellS / 3 : d.tauS;
      const sigma = d.relative ? d.sigma * target : d.sigma;
      const value = this.pv[a] + (target - this.pv[a]) * (1 - Math.exp(-dtS / tau)) + sigma * Math.sqrt(dtS) * this.rng.gauss();
      this.pv[a] = clamp(value, d.min, d.max);
    }
    this.advanceExcursion(dtS);
    this.advancePackaging(dtS);
  }

  read(fact: BreweryFact): FactValue {
    const profile = PROFILES[this.state];
    switch (fact) {
      case 'state':
        return this.state;
      case 'pump_running':
        return profile.pumpRunning;
      case 'valve_open':
        return profile.valveOpen && this.excursion?.fact !== 'valve_open';
      case 'setpoint_c':
        return round(this.setpointC, 1);
      case 'packaged_total':
        return this.packagedTotal;
      case 'packaged_good':
        return this.packagedGood;
      default:
        return this.readAnalog(fact);
    }
  }

  private readAnalog(a: Analog): number {
    const d = DYNAMICS[a];
    const noise = (d.relative ? d.noise * this.pv[a] : d.noise) * this.rng.gauss();
    const offset = this.excursion?.fact === a ? this.excursion.offset : 0;
    return round(clamp(this.pv[a] + noise + offset, d.min, d.max), d.decimals);
  }

  private enter(state: BrewState): void {
    const profile = PROFILES[state];
    this.state = state;
    this.dwellS = this.rng.between(...profile.dwellS);
    this.remainingS = this.dwellS;
    this.setpointC = state === 'fermenting' ? this.rng.between(18, 20) : profile.setpointC;
    // Wort passes a chiller on its way into the fermenter: it arrives at pitching temperature, so
    // only a real excursion breaks the "over 24 C while fermenting" rule.
    if (state === 'fermenting') this.pv.temperature_c = this.setpointC + 0.2 * this.rng.gauss();
    // Mash pH is set by the grist and water chemistry at mash-in, not by a slow drift.
    if (state === 'mashing') this.pv.ph = profile.ph + 0.03 * this.rng.gauss();
    if (state === 'mashing') {
      this.originalGravity = this.rng.between(1.045, 1.06);
      this.finalGravity = this.rng.between(1.008, 1.012);
    }
  }

  private target(a: Analog): number {
    const p = PROFILES[this.state];
    switch (a) {
      case 'temperature_c':
        return this.setpointC;
      case 'pressure_bar':
        return p.pressureBar;
      case 'level_pct':
        return p.levelPct;
      case 'flow_lpm':
        return p.flowLpm;
      case 'ph':
        return p.ph;
      case 'agitator_rpm':
        return p.rpm;
      case 'gravity_sg':
        if (this.state === 'mashing') return this.originalGravity;
        if (this.state === 'boiling') return this.originalGravity + 0.004;
        if (this.state === 'fermenting') return this.finalGravity;
        return 1;
    }
  }

  private advanceExcursion(dtS: number): void {
    if (this.excursion) {
      this.excursion.remainingS -= dtS;
      if (this.excursion.remainingS <= 0) this.excursion = undefined;
      return;
    }
    if (this.rng.chance(dtS / EXCURSION_MEAN_INTERVAL_S)) this.excursion = this.pickExcursion();
  }

  /**
   * Faults a brewer would recognise, each several sigma off the process, and between them able to
   * trip every rule in rules/brewery.rules.json: a pump running dry, a kettle close to boiling over,
   * overheating (over 24 C while fermenting), overpressure, a CIP valve stuck closed, a pH swing,
   * a stalled agitator, a flow surge.
   */
  private pickExcursion(): Excursion {
    const remainingS = this.rng.between(...EXCURSION_DURATION_S);
    const { pumpRunning } = PROFILES[this.state];
    const kind = this.rng.next();
    const excursion = (fact: Excursion['fact'], offset = 0): Excursion => ({ fact, offset, remainingS });
    if (pumpRunning && kind < 0.4) return excursion('level_pct', this.rng.between(1, 4) - this.pv.level_pct);
    if (this.state === 'boiling' && kind < 0.3) return excursion('level_pct', this.rng.between(92, 97) - this.pv.level_pct);
    if (this.state === 'cleaning' && kind < 0.55) return excursion('valve_open');
    if (kind < 0.55) return excursion('temperature_c', this.rng.between(6, 10));
    if (kind < 0.75) return excursion('pressure_bar', this.rng.between(2.6, 3.2) - this.pv.pressure_bar);
    if (kind < 0.85) return excursion('ph', this.rng.pick([-1, 1]) * this.rng.between(0.6, 1.2));
    if (this.pv.agitator_rpm > 1 && kind < 0.95) return excursion('agitator_rpm', -this.pv.agitator_rpm);
    return excursion('flow_lpm', this.pv.flow_lpm * this.rng.between(0.4, 0.7));
  }

  private advancePackaging(dtS: number): void {
    if (!PROFILES[this.state].packaging) return;
    this.packagingCarry += this.packagingPerS * dtS;
    while (this.packagingCarry >= 1) {
      this.packagingCarry -= 1;
      this.packagedTotal += 1;
      if (this.rng.chance(GOOD_RATIO)) this.packagedGood += 1;
    }
  }
}

const clamp = (v: number, min: number, max: number): number => Math.min(max, Math.max(min, v));
const round = (v: number, decimals: number): number => {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
};
