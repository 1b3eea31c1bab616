import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStageConfig } from '#config/stages';
import { startLocalEnvironment, type LocalEnvironment } from '../../local/environment.ts';
import { ruleTriggers } from '../helpers/faults/harness.ts';
import { LocalPipeline } from '../../local/pipeline.ts';
import { startView, type RunningView } from '../../local/live/startView.ts';
import { putRecords } from '#core/producer';
import { encodeRecord } from '#core/record';
import type { Page } from 'playwright-core';
import { stalledViewer } from '../../bench/lib/viewers.ts';
import { launchChromium, type Browser } from '../helpers/browser.ts';

const number = (text: string | null) => Number((text ?? '').replace(/,/g, ''));

/** Waits until `js` (an expression evaluated in the page) is true; the timeout is only a safety net. */
const until = (page: Page, js: string) => page.waitForFunction(js, undefined, { timeout: 90_000 });
const points = (chart: string) => `Number(document.getElementById('${chart}').dataset.points)`;

let env: LocalEnvironment;
let browser: Browser;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tapline-live-'));
  [env, browser] = await Promise.all([startLocalEnvironment({ config: loadStageConfig('local') }), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await env?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the live view in a browser, during a local run', () => {
  it('shows the rate rising, charts with points, rule firings and the summary; a stalled viewer is dropped and ingest loses nothing', async () => {
    const pipeline: LocalPipeline = new LocalPipeline(env, LocalPipeline.logFileIn(dir), [{ name: 'maintenance', everyMs: 4_000, run: () => pipeline.maintain() }]);
    let live: RunningView | undefined;
    let stalled: Socket | undefined;
    try {
      // A small window, so that the stalled viewer passes it within seconds (the page acknowledges
      // a quarter window at a time, so it keeps up with any window).
      live = await startView({ mode: 'live', db: env.db, pipeline, windowBytes: 32 * 1024 }, 0);
      stalled = stalledViewer(live.url);
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(live.url);
      await page.waitForSelector('#status.connected');
      await until(page, `document.querySelectorAll('#viewers tbody tr').length === 2`);
      expect(await page.textContent('#t-ingested')).toBe('0');

      // Act: the simulator for a few seconds, and readings that fire a rule beside it.
      await pipeline.start();
      const simulating = pipeline.simulate(800, 10, 7);
      const triggers = ruleTriggers('LIVE', 5);
      const put = await putRecords(
        env.kinesis,
        env.streamName,
        triggers.map((r) => ({ data: encodeRecord(r), partitionKey: r.source })),
      );
      expect(put.failed).toHaveLength(0);

      // The page, as it happens: ingestion rising, the raw tail of the chosen series drawn, a rule firing listed.
      await until(page, `Number(document.getElementById('t-ingested-rate').textContent.replace(/,/g, '')) > 0`);
      await until(page, `${points('chart-tail')} > 0`);
      expect(await page.getAttribute('#chart-tail', 'data-series')).toBe('FBE_01/temperature_c');
      expect(await page.inputValue('#unit')).toBe('FBE_01');
      await until(page, `[...document.querySelectorAll('#events tbody tr.rule')].some((tr) => /LIVE_0000.*vessel_over_pressure/.test(tr.textContent))`);

      // Choosing another unit and fact redraws from the server's memory, not the database.
      await page.selectOption('#unit', 'FBE_02');
      await page.selectOption('#fact', 'pressure_bar');
      await until(page, `document.getElementById('chart-tail').dataset.series === 'FBE_02/pressure_bar' && ${points('chart-tail')} > 0`);

      // The stalled viewer is dropped, and the page says so in its viewers table.
      await until(page, `[...document.querySelectorAll('#viewers tbody tr:not(.you) td:nth-child(3)')].some((td) => Number(td.textContent) > 0)`);

      const sim = await simulating;
      const drained = await pipeline.drain(60_000);
      await pipeline.runPeriodicNow();
      await pipeline.stop();
      const summary = await pipeline.summary(sim, 800, 10);
      await live.view.finish(summary);

      // Assess: nothing lost or slowed to a halt because of a viewer: drained, every record accounted for...
      expect(drained).toBe(true);
      expect(summary.functionErrors).toBe(0);
      expect(summary.unaccounted).toBe(0);
      expect(summary.arrived).toBe(sim.sent + triggers.length);
      expect(summary.ingested + summary.invalid).toBe(summary.arrived);
      const { rows } = await env.db.query<{ samples: number }>('SELECT sum(sample_count)::int AS samples FROM telemetry_events');
      expect(rows[0]?.samples).toBe(summary.ingested);
      // ...while the stalled viewer was sent a window's worth and dropped the rest.
      const pageViewer = await page.getAttribute('#viewers tbody tr.you', 'data-viewer');
      const others = live.view.hub.all().filter((v) => v.id !== pageViewer);
      expect(others).toHaveLength(1);
      expect(others[0]!.status().dropped).toBeGreaterThan(0);
      expect(number(await page.textContent('#dropped'))).toBe(0);

      // The page ends on the run's summary and the warehouse's rollup of the chosen series.
      await page.waitForSelector('#summary-panel:not([hidden])');
      expect(await page.textContent('#summary')).toContain(`ingested ${summary.ingested.toLocaleString('en-US')}, invalid 0, unaccounted 0`);
      await until(page, `${points('chart-rollup')} > 0`);
      expect(number(await page.textContent('#t-ingested'))).toBe(summary.ingested);
      expect(await page.textContent('#status')).toBe('run finished');
      expect(errors).toEqual([]);
      if (process.env.LIVE_VIEW_SCREENSHOT) await page.screenshot({ path: process.env.LIVE_VIEW_SCREENSHOT, fullPage: true });
    } finally {
      stalled?.destroy();
      await live?.close();
      await pipeline.stop().catch(() => undefined);
    }
  });
});
