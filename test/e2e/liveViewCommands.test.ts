import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startPostgres } from '../../local/services/postgres.ts';
import type { PipelineSummary } from '../../local/pipeline.ts';
import { watch } from '../../bench/lib/viewers.ts';
import { launchChromium } from '../helpers/browser.ts';

const dir = await mkdtemp(join(tmpdir(), 'tapline-live-cli-'));
await chmod(dir, 0o755); // the embedded server runs as user postgres when tests run as root
afterAll(() => rm(dir, { recursive: true, force: true }));
const dataDir = join(dir, 'data');

interface Command {
  /** Resolves with the first match of `pattern` in stderr. */
  printed(pattern: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; stderr: string }>;
  interrupt(): void;
}

function command(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Command {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const waiting: Array<{ pattern: RegExp; found: (m: RegExpMatchArray) => void }> = [];
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiting.splice(0)) {
      const m = stderr.match(w.pattern);
      if (m) w.found(m);
      else waiting.push(w);
    }
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((ok) => child.on('close', (code) => ok({ code, stderr })));
  return {
    printed: (pattern) =>
      new Promise((found, failed) => {
        const m = stderr.match(pattern);
        if (m) return found(m);
        waiting.push({ pattern, found });
        void exited.then(() => failed(new Error(`exited without printing ${pattern}:\n${stderr}`)));
      }),
    exited,
    interrupt: () => child.kill('SIGINT'),
  };
}

function status(url: string, host: string): Promise<number> {
  return new Promise((ok, fail) => {
    request(url, { headers: { host } }, (res) => {
      res.resume();
      ok(res.statusCode ?? 0);
    })
      .on('error', fail)
      .end();
  });
}

describe('npm run local serves the live view; npm run dashboard serves it from the warehouse', () => {
  it('npm run local prints the page address, serves the page and uPlot itself, and streams the summary at the end', async () => {
    const run = command('local/bin/local.ts', ['--duration', '5', '--rate', '800', '--ui-port', '0', '--data-dir', dataDir]);
    const url = (await run.printed(/live view: (http:\/\/127\.0\.0\.1:\d+\/)/))[1]!;
    let summary: PipelineSummary | undefined;
    const viewer = watch(url, (f) => {
      if (f.event === 'summary') summary = JSON.parse(f.data) as PipelineSummary;
    });
    const html = await fetch(url).then((r) => r.text());
    expect(html).toContain('<script src="/vendor/uPlot.iife.min.js">');
    const uplot = await fetch(new URL('/vendor/uPlot.iife.min.js', url));
    expect(uplot.status).toBe(200);
    expect(await uplot.text()).toContain('uPlot');
    // DNS rebinding: a request for another host name is refused.
    expect(await status(url, 'attacker.example:80')).toBe(421);

    await viewer.ended;
    const { code, stderr } = await run.exited;
    expect(code, stderr).toBe(0);
    expect(summary).toMatchObject({ produced: 4_000, unaccounted: 0 });
  });

  it('npm run dashboard shows rollups, ingest delay, rule history and OEE from the kept database', async () => {
    // The kept database of the run above, with one rule firing and one OEE snapshot the page must show.
    const server = await startPostgres({ dataDir: join(dataDir, 'pg') });
    const client = new pg.Client(server.url);
    await client.connect();
    await client.query(`INSERT INTO rule_events (event_id, ts, source, rule_id, rules_version) VALUES ('dashboard-fixture', now(), 'FBE_03', 'fixture_rule', 'test')`);
    await client.query(
      `INSERT INTO oee_snapshots (ts, source, availability_pct, performance_pct, quality_pct, oee_pct)
       VALUES (date_trunc('minute', now()), 'FIXTURE_01', 90, 97.5, 100, 87.75)`,
    );
    await client.end();
    const browser = await launchChromium();
    const dashboard = command('ops/bin/dashboard.ts', ['--port', '0'], { ...process.env, DATABASE_URL: server.url });
    try {
      const url = (await dashboard.printed(/dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/))[1]!;
      const page = await browser.context.newPage();
      await page.goto(url);
      const until = (js: string) => page.waitForFunction(js, undefined, { timeout: 90_000 });
      await until(`document.getElementById('mode-title').textContent === 'dashboard'`);
      await until(`Number(document.getElementById('chart-rollup').dataset.points) > 0`);
      await until(`Number(document.getElementById('chart-lag').dataset.points) > 0`);
      expect(await page.getAttribute('#chart-rollup', 'data-series')).toBe('FBE_01/temperature_c');
      await page.waitForSelector('#events tbody tr.rule');
      expect(await page.textContent('#events tbody tr.rule')).toContain('fixture_rule');
      await page.waitForSelector('#oee tbody tr');
      expect(await page.textContent('#oee tbody')).toMatch(/FIXTURE_01.*87\.75 %.*90 %.*97\.5 %.*100 %/);
      expect(await page.isVisible('#t-produced')).toBe(false); // the live tiles belong to a run
      expect(await page.isVisible('#d-delay')).toBe(true);
    } finally {
      dashboard.interrupt();
      const { code, stderr } = await dashboard.exited;
      await browser.close();
      await server.stop();
      expect(code, stderr).toBe(130); // stopped with Ctrl-C
    }
  });

  it('rejects a bad port or flag with exit 2 and one line, before starting anything', async () => {
    for (const [script, args, message] of [
      ['local/bin/local.ts', ['--ui-port', '70000'], '--ui-port must be a port number in 0..65535, got "70000"'],
      ['ops/bin/dashboard.ts', ['--port', 'abc'], 'error: --port must be a port number in 0..65535, got "abc"'],
      ['ops/bin/dashboard.ts', ['--bogus'], 'error: unknown option --bogus'],
    ] as const) {
      const { code, stderr } = await command(script, [...args]).exited;
      expect(code, stderr).toBe(2);
      expect(stderr.split('\n')[0]).toContain(message);
      expect(stderr).not.toMatch(/^\s+at /m);
    }
  });
});
