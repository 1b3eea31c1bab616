import { existsSync, readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { SourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { withSourceFrames, type CpuProfile, type FrameSource } from './cpuProfile.ts';

const sourceMaps = new Map<string, SourceMap | undefined>();

/** Looks a frame up in the source map beside its file (the bench bundle's), when there is one. */
export const fromSourceMap: FrameSource = (url, line, column) => {
  if (!url.startsWith('file://')) return undefined;
  if (!sourceMaps.has(url)) {
    const mapFile = `${fileURLToPath(url)}.map`;
    sourceMaps.set(url, existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]) : undefined);
  }
  const entry = sourceMaps.get(url)?.findEntry(line, column);
  if (!entry || !('originalSource' in entry)) return undefined;
  return { name: (entry as { name?: string }).name, url: pathToFileURL(fileURLToPath(new URL(entry.originalSource, url))).href, line: entry.originalLine };
};

/** CPU-profiles `work` in this process (V8's sampling profiler, as node --cpu-prof, but scoped), frames named after their sources. */
export async function profile(work: () => Promise<unknown>): Promise<CpuProfile> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    const outcome = await work().then(
      () => ({ ok: true as const }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    // Stopped before rethrowing, so the profiler never keeps sampling the rest of the run.
    const { profile: result } = await session.post('Profiler.stop');
    if (!outcome.ok) throw outcome.error;
    return withSourceFrames(result as unknown as CpuProfile, fromSourceMap);
  } finally {
    session.disconnect();
  }
}
