import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Takes over stdout while handlers run in-process: CloudWatch Embedded Metric Format lines are
 * summed by metric name, the way CloudWatch extracts them in AWS, and every other line (the
 * functions' structured logs) goes to a log file, so the terminal shows only the runner's progress.
 */
export class FunctionOutput {
  readonly metrics = new Map<string, number>();
  private readonly log: WriteStream;
  private readonly originalWrite = process.stdout.write.bind(process.stdout);
  private pending = '';

  constructor(readonly logFile: string) {
    mkdirSync(dirname(logFile), { recursive: true });
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  capture(): void {
    process.stdout.write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
      this.pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      let nl: number;
      while ((nl = this.pending.indexOf('\n')) >= 0) {
        this.line(this.pending.slice(0, nl));
        this.pending = this.pending.slice(nl + 1);
      }
      const done = rest.find((r): r is () => void => typeof r === 'function');
      done?.();
      return true;
    };
  }

  async release(): Promise<void> {
    process.stdout.write = this.originalWrite;
    await new Promise<void>((ok) => this.log.end(ok));
  }

  metric(name: string): number {
    return this.metrics.get(name) ?? 0;
  }

  private line(text: string): void {
    if (text.startsWith('{') && text.includes('"_aws"')) {
      const emf = JSON.parse(text) as { _aws?: { CloudWatchMetrics?: Array<{ Metrics?: Array<{ Name: string }> }> } } & Record<string, unknown>;
      for (const directive of emf._aws?.CloudWatchMetrics ?? []) {
        for (const { Name } of directive.Metrics ?? []) {
          const value = emf[Name];
          const values = Array.isArray(value) ? value : [value];
          const sum = values.reduce((a: number, v) => a + (typeof v === 'number' ? v : 0), 0);
          this.metrics.set(Name, (this.metrics.get(Name) ?? 0) + sum);
        }
      }
      return;
    }
    this.log.write(text + '\n');
  }
}
