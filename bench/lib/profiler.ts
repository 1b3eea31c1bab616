import { Session } from 'node:inspector/promises';
import type { CpuProfile } from './cpuProfile.ts';

/** CPU-profiles `work` in this process (V8's sampling profiler, as node --cpu-prof, but scoped). */
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
    return result as unknown as CpuProfile;
  } finally {
    session.disconnect();
  }
}
