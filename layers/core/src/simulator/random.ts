/**
 * Seeded randomness for the simulator. Math.random cannot be seeded, and "same seed, same
 * sequence" is what makes a load run or a failing test reproducible.
 */
export interface Random {
  /** uniform in [0, 1) */
  next(): number;
  /** standard normal (mean 0, sd 1) */
  gauss(): number;
  /** uniform in [min, max) */
  between(min: number, max: number): number;
  /** true with probability p */
  chance(p: number): boolean;
  /** one element, uniformly */
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: 32-bit state, passes the usual smoke tests, and is a few lines long. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function createRandom(seed: number): Random {
  const next = mulberry32(seed);
  const random: Random = {
    next,
    gauss() {
      // Box-Muller; 1 - u keeps the logarithm away from 0
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    between: (min, max) => min + (max - min) * next(),
    chance: (p) => next() < p,
    pick<T>(items: readonly T[]): T {
      const item = items[Math.floor(next() * items.length)];
      if (item === undefined) throw new RangeError('pick() from an empty list');
      return item;
    },
  };
  return random;
}
