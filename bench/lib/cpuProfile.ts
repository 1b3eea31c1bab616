/**
 * Summarises a V8 .cpuprofile (node --cpu-prof) into the frames that cost the most, by self time
 * and by inclusive time, so a missed target can be explained from the profile in a few lines.
 */
export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FrameCost {
  frame: string;
  selfPct: number;
  totalPct: number;
}

const frameName = (n: CpuProfileNode): string => {
  const { functionName, url, lineNumber } = n.callFrame;
  const file = url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '~/')
    .replace(/^.*\/work\/[^/]+\//, '');
  return `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
};

/** Where a bundled frame came from: its source's name, file and zero-based line, or undefined when unknown. */
export type FrameSource = (url: string, line: number, column: number) => { name?: string; url: string; line: number } | undefined;

/**
 * The profile with each bundled frame named after its source (the bench runs minified, so V8 reports
 * names like `wr` at line 2 of the bundle); frames the lookup does not know stay as they are.
 */
export function withSourceFrames(profile: CpuProfile, source: FrameSource): CpuProfile {
  const nodes = profile.nodes.map((n) => {
    const { functionName, url, lineNumber, columnNumber } = n.callFrame;
    const found = url ? source(url, lineNumber, columnNumber) : undefined;
    if (!found) return n;
    return { ...n, callFrame: { functionName: found.name ?? functionName, url: found.url, lineNumber: found.line, columnNumber: 0 } };
  });
  return { ...profile, nodes };
}

/** Samples that are not the program's work: waiting, and the profiler's own start/stop. */
const isNoise = (stack: readonly CpuProfileNode[]): boolean => stack[0]?.callFrame.functionName === '(idle)' || stack.some((n) => n.callFrame.url === 'node:inspector');

/**
 * Self and inclusive share of busy time per frame (a recursive frame counts once per sample).
 * Idle samples and the inspector's own work (starting and stopping the profiler) are left out.
 */
export function summarizeProfile(profile: CpuProfile, top = 15): { self: FrameCost[]; total: FrameCost[]; sampledMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let sampled = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const stack: CpuProfileNode[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (node) stack.push(node);
    }
    if (stack.length === 0 || isNoise(stack)) return;
    sampled += dt;
    const leafName = frameName(stack[0] as CpuProfileNode);
    self.set(leafName, (self.get(leafName) ?? 0) + dt);
    for (const name of new Set(stack.map(frameName))) total.set(name, (total.get(name) ?? 0) + dt);
  });
  const rank = (m: Map<string, number>, key: 'selfPct' | 'totalPct'): FrameCost[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, t]) => {
        const pct = sampled > 0 ? (100 * t) / sampled : 0;
        return {
          frame,
          selfPct: key === 'selfPct' ? pct : (100 * (self.get(frame) ?? 0)) / (sampled || 1),
          totalPct: key === 'totalPct' ? pct : (100 * (total.get(frame) ?? 0)) / (sampled || 1),
        };
      });
  return { self: rank(self, 'selfPct'), total: rank(total, 'totalPct'), sampledMs: sampled / 1000 };
}
