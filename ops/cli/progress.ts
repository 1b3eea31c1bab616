/**
 * A progress bar on stderr (stdout stays clean for data and --json). On a terminal it redraws one
 * line; otherwise (CI, a pipe) it prints a line every 10 %.
 */
export interface Progress {
  update(done: number): void;
  finish(done: number): void;
}

export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = Date.now();
  let lastDecile = -1;
  let lastPrinted = -1;
  const line = (done: number) => {
    const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    const width = 30;
    const filled = Math.round((pct / 100) * width);
    const secs = (Date.now() - started) / 1000;
    const rate = secs > 0 ? Math.round(done / secs) : 0;
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} rows, ${rate.toLocaleString('en-US')} rows/s`;
  };
  return {
    update(done) {
      if (stream.isTTY) {
        stream.write(`\r${line(done)}`);
        return;
      }
      const decile = total > 0 ? Math.floor((done / total) * 10) : 10;
      if (decile > lastDecile) {
        lastDecile = decile;
        lastPrinted = done;
        stream.write(`${line(done)}\n`);
      }
    },
    finish(done) {
      if (stream.isTTY) stream.write(`\r${line(done)}\n`);
      else if (done !== lastPrinted) stream.write(`${line(done)}\n`);
    },
  };
}
