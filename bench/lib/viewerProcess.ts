import { stalledViewer, watch, type Watcher } from './viewers.ts';

/**
 * The viewers of the live-view bench, in their own process as browsers would be: N - 1 that read
 * and acknowledge, one stalled. Prints `ready` once every reading viewer has its state, and the
 * frames they read (JSON) when its stdin closes, then exits.
 */
const [url, countArg] = process.argv.slice(2);
const count = Number(countArg);
if (!url || !Number.isInteger(count) || count < 1) {
  process.stderr.write('usage: viewerProcess.ts <url> <viewers>\n');
  process.exit(2);
}

const stalled = stalledViewer(url);
let welcomed = 0;
const watchers: Watcher[] = Array.from({ length: count - 1 }, () => {
  let counted = false;
  return watch(url, (f) => {
    if (f.event !== 'state' || counted) return;
    counted = true;
    if (++welcomed === count - 1) process.stdout.write('ready\n');
  });
});
if (count === 1) process.stdout.write('ready\n');
for (const w of watchers) w.ended.catch((e: unknown) => process.stderr.write(`viewer failed: ${(e as Error).message}\n`));

process.stdin.resume();
process.stdin.on('end', () => {
  process.stdout.write(`${JSON.stringify({ frames: watchers.map((w) => w.frames), bytes: watchers.map((w) => w.bytes) })}\n`);
  for (const w of watchers) w.close();
  stalled.destroy();
  process.exit(0);
});
