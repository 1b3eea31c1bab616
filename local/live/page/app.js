// The live view's page: one EventSource (GET /live), drawn with uPlot. Every frame is acknowledged
// (POST /ack) after it is handled, within a second or as soon as a quarter of the window it was
// told in hello is unacknowledged: the server counts what this page has not confirmed and
// drops frames for it past a small window, so a page that falls behind loses frames (shown in the
// header), never slows the pipeline; it is sent the whole state again once it has caught up.

const $ = (id) => document.getElementById(id);
const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const dec = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const ACK_EVERY_MS = 1_000;
const MAX_TAIL = 600;
const MAX_EVENTS = 200;
const MAX_RATES = 900;

const page = {
  mode: 'live',
  viewer: null,
  lastSeq: 0,
  ackedSeq: 0,
  lastAckAt: 0,
  ackTimer: null,
  windowBytes: 0,
  unackedBytes: 0,
  series: new Set(),
  selected: '',
  rates: [],
  tail: [],
  rollup: new Map(),
  delay: [],
  events: [],
  finished: false,
  dirty: new Set(),
  drawing: false,
};

// ---- charts ----

function chart(id, series) {
  const el = $(id);
  const opts = {
    width: Math.max(300, el.clientWidth),
    height: 220,
    // A single point (one rollup bucket so far) gets five minutes either side: uPlot's own padding
    // of a lone x value spans years.
    scales: { x: { time: true, range: (u, min, max) => (u.data[0].length === 1 ? [u.data[0][0] - 300, u.data[0][0] + 300] : [min, max]) } },
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    series: [{}, ...series.map(([label, stroke, dash]) => ({ label, stroke, width: dash ? 1 : 1.6, dash: dash ? [4, 4] : undefined, spanGaps: false }))],
    axes: [{}, { size: 60 }],
  };
  const plot = new uPlot(opts, [[], ...series.map(() => [])], el);
  new ResizeObserver(() => plot.setSize({ width: Math.max(300, el.clientWidth), height: 220 })).observe(el);
  return {
    /** `series`: which unit/fact the chart shows (read by the browser test). */
    set(data, series) {
      plot.setData(data);
      el.dataset.points = String(data[0].length);
      if (series !== undefined) el.dataset.series = series;
    },
  };
}

const charts = {};

function makeCharts() {
  const live = page.mode === 'live';
  charts.rates = chart(
    'chart-rates',
    live
      ? [
          ['produced/s', '#1f6feb'],
          ['ingested/s', '#12b76a'],
        ]
      : [['samples/s', '#12b76a']],
  );
  charts.lag = chart(
    'chart-lag',
    live
      ? [['iterator lag (s)', '#b54708']]
      : [
          ['avg delay (s)', '#b54708'],
          ['max delay (s)', '#b54708', true],
        ],
  );
  charts.rollup = chart('chart-rollup', [
    ['avg', '#1f6feb'],
    ['min', '#98a2b3', true],
    ['max', '#98a2b3', true],
  ]);
  if (live)
    charts.tail = chart('chart-tail', [
      ['last', '#12b76a'],
      ['min', '#98a2b3', true],
      ['max', '#98a2b3', true],
    ]);
}

const seconds = (ms) => ms / 1000;

function draw() {
  // Drawing may mark more to draw (a first selection); that goes to the next frame.
  const d = new Set(page.dirty);
  page.dirty.clear();
  if (d.has('rates')) {
    if (page.mode === 'live') {
      charts.rates.set([page.rates.map((r) => seconds(r[0])), page.rates.map((r) => r[1]), page.rates.map((r) => r[2])]);
      charts.lag.set([page.rates.map((r) => seconds(r[0])), page.rates.map((r) => r[3] / 1000)]);
    } else {
      charts.rates.set([page.delay.map((p) => seconds(p[0])), page.delay.map((p) => p[3] / 60)]);
      charts.lag.set([page.delay.map((p) => seconds(p[0])), page.delay.map((p) => p[1]), page.delay.map((p) => p[2])]);
    }
  }
  if (d.has('rollup')) {
    const points = [...page.rollup.values()].sort((a, b) => a[0] - b[0]);
    charts.rollup.set([points.map((p) => seconds(p[0])), points.map((p) => p[1]), points.map((p) => p[2]), points.map((p) => p[3])], page.selected);
  }
  if (d.has('tail') && charts.tail) {
    charts.tail.set([page.tail.map((p) => seconds(p[0])), page.tail.map((p) => p[1]), page.tail.map((p) => p[2]), page.tail.map((p) => p[3])], page.selected);
    const last = page.tail[page.tail.length - 1];
    $('latest-value').textContent = last ? `latest ${last[5] ?? dec.format(last[1])} at ${new Date(last[0]).toLocaleTimeString()}` : '';
  }
  if (d.has('series')) renderSelectors();
  if (d.has('events')) renderEvents();
}

function later(...parts) {
  for (const p of parts) page.dirty.add(p);
  if (page.drawing) return;
  page.drawing = true;
  requestAnimationFrame(() => {
    page.drawing = false;
    draw();
  });
}

// ---- unit and fact ----

function splitKey(key) {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

function addSeries(key) {
  if (page.series.has(key)) return;
  page.series.add(key);
  later('series');
}

const factsOf = (unit) =>
  [...page.series]
    .map(splitKey)
    .filter(([u]) => u === unit)
    .map(([, f]) => f)
    .sort();

/** Selects the unit's `fact`, or its first fact when it has no such one. */
function choose(unit, fact) {
  const facts = factsOf(unit);
  const key = unit && facts.length > 0 ? `${unit}/${facts.includes(fact) ? fact : facts[0]}` : '';
  if (key !== page.selected) select(key);
  later('series');
}

function renderSelectors() {
  const units = [...new Set([...page.series].map((k) => splitKey(k)[0]))].sort();
  if (!page.selected && units.length > 0) return choose(units.includes('FBE_01') ? 'FBE_01' : units[0], 'temperature_c');
  const [unit, fact] = splitKey(page.selected);
  fill($('unit'), units, unit);
  fill($('fact'), factsOf(unit), fact);
}

function fill(el, values, chosen) {
  const same = el.options.length === values.length && values.every((v, i) => el.options[i].value === v);
  if (!same) el.replaceChildren(...values.map((v) => new Option(v, v)));
  el.value = chosen;
}

async function select(key) {
  page.selected = key;
  page.tail = [];
  page.rollup = new Map();
  later('tail', 'rollup');
  if (!key) return;
  const res = await fetch(`/api/series?key=${encodeURIComponent(key)}`);
  const history = await res.json();
  if (page.selected !== key) return;
  page.tail = history.tail.slice(-MAX_TAIL);
  for (const p of history.rollup) page.rollup.set(p[0], p);
  later('tail', 'rollup');
}

$('unit').addEventListener('change', () => choose($('unit').value, $('fact').value));
$('fact').addEventListener('change', () => choose($('unit').value, $('fact').value));

// ---- tables and tiles ----

function renderEvents() {
  const body = $('events').tBodies[0];
  body.replaceChildren(
    ...page.events
      .slice(-MAX_EVENTS)
      .reverse()
      .map((e) => {
        const tr = document.createElement('tr');
        tr.className = e.kind;
        const what = e.kind === 'rule' ? e.ruleId : `${e.fact} = ${dec.format(e.value)} (ema ${dec.format(e.ema)}, σ ${dec.format(e.sigma)})`;
        tr.append(...[new Date(e.ts).toLocaleTimeString(), e.source, e.kind, what].map(cell));
        return tr;
      }),
  );
  $('events-empty').hidden = page.events.length > 0;
  $('d-rules').textContent = int.format(page.events.filter((e) => e.kind === 'rule').length);
  $('d-anomalies').textContent = int.format(page.events.filter((e) => e.kind === 'anomaly').length);
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

const pct = (v) => (v === null || v === undefined ? '–' : `${dec.format(v)} %`);

function renderOee(units) {
  $('oee').tBodies[0].replaceChildren(
    ...units.map((u) => {
      const tr = document.createElement('tr');
      const oee = cell(pct(u.oee));
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${Math.round((u.oee ?? 0) * 0.6)}px`;
      oee.prepend(bar);
      tr.append(cell(u.source), cell(new Date(u.tsMs).toLocaleString()), oee, cell(pct(u.availability)), cell(pct(u.performance)), cell(pct(u.quality)));
      return tr;
    }),
  );
  $('oee-empty').hidden = units.length > 0;
}

function renderSnapshot(s, rate) {
  if (!s) return;
  $('t-produced').textContent = int.format(s.arrived);
  $('t-ingested').textContent = int.format(s.ingested);
  if (rate) {
    $('t-produced-rate').textContent = int.format(rate[1]);
    $('t-ingested-rate').textContent = int.format(rate[2]);
  }
  $('t-lag').textContent = `${dec.format(s.lagMs / 1000)} s`;
  $('t-max-lag').textContent = `${dec.format(s.maxLagMs / 1000)} s`;
  $('t-rows').textContent = int.format(s.rowsWritten);
  $('t-duplicates').textContent = int.format(s.duplicatesSkipped);
  $('t-derived').textContent = int.format(s.derivedEvents);
  $('t-derived-written').textContent = int.format(s.derivedWritten);
  $('t-dlq-ingest').textContent = int.format(s.dlq.ingest);
  $('t-dlq-onfailure').textContent = int.format(s.dlq.onFailure);
  $('t-dlq-events').textContent = int.format(s.dlq.events);
  $('t-errors').textContent = int.format(s.functionErrors);
  $('t-invalid').textContent = int.format(s.invalid);
}

function renderDelay(delay) {
  page.delay = delay;
  const last = delay[delay.length - 1];
  $('d-latest').textContent = last ? new Date(last[0]).toLocaleString() : '–';
  $('d-delay').textContent = last ? `${dec.format(last[1])} s` : '–';
  $('d-delay-max').textContent = last ? `${dec.format(last[2])} s` : '–';
  $('d-rate').textContent = last ? int.format(last[3] / 60) : '–';
  later('rates');
}

function renderMyDrops(status) {
  $('dropped').textContent = int.format(status.dropped);
  $('my-drops').classList.toggle('dropping', status.dropped > 0);
}

function renderViewers(d) {
  const me = d.viewers.find((v) => v.id === page.viewer);
  if (me) renderMyDrops(me);
  $('viewers-connected').textContent = int.format(d.connected);
  $('viewers').tBodies[0].replaceChildren(
    ...d.viewers.map((v) => {
      const tr = document.createElement('tr');
      tr.className = `${v.id === page.viewer ? 'you' : ''} ${v.dropped > 0 ? 'behind' : ''}`;
      tr.dataset.viewer = v.id;
      tr.append(
        cell(v.id === page.viewer ? `${v.id.slice(0, 8)} (this page)` : v.id.slice(0, 8)),
        cell(int.format(v.sent)),
        cell(int.format(v.dropped)),
        cell(`${int.format(v.unackedBytes / 1024)} KiB`),
      );
      return tr;
    }),
  );
}

function renderProblems(problems) {
  const list = Object.values(problems);
  $('problems').hidden = list.length === 0;
  $('problems').textContent = list.join(' · ');
}

function renderSummary(s) {
  const outside = s.arrived - s.produced;
  $('summary').textContent = [
    `produced ${int.format(s.produced)}${outside > 0 ? ` (+${int.format(outside)} put from outside)` : ''}, ingested ${int.format(s.ingested)}, invalid ${int.format(s.invalid)}, unaccounted ${s.unaccounted}`,
    `rows written ${int.format(s.rowsWritten)} (duplicates skipped ${int.format(s.duplicatesSkipped)}), derived events ${int.format(s.derivedEvents)}, written ${int.format(s.derivedWritten)}`,
    `database: ${int.format(s.database.telemetryRows)} telemetry rows, ${int.format(s.database.ruleEvents)} rule events, ${int.format(s.database.anomalyEvents)} anomalies`,
    `dlq depths: ingest ${s.dlq.ingest}, on-failure ${s.dlq.onFailure}, events ${s.dlq.events}; max lag ${dec.format(s.maxLagMs / 1000)} s; function errors ${s.functionErrors}`,
  ].join('\n');
  $('summary-panel').hidden = false;
}

function setStatus(text, cls) {
  $('status').textContent = text;
  $('status').className = `status ${cls}`;
}

// ---- the stream ----

const handlers = {
  hello(d) {
    page.viewer = d.viewer;
    page.windowBytes = d.windowBytes;
    if (!charts.rates || page.mode !== d.mode) {
      page.mode = d.mode;
      document.body.dataset.mode = d.mode;
      $('mode-title').textContent = d.mode === 'live' ? 'live view' : 'dashboard';
      for (const el of ['chart-rates', 'chart-lag', 'chart-rollup', 'chart-tail']) $(el).replaceChildren();
      makeCharts();
    }
    setStatus('connected', 'connected');
  },
  state(d) {
    renderMyDrops(d.viewer);
    page.rates = d.rates;
    page.events = d.events;
    for (const key of d.series) addSeries(key);
    renderSnapshot(d.snapshot, d.rates[d.rates.length - 1]);
    renderOee(d.oee);
    if (d.mode === 'dashboard') renderDelay(d.delay);
    renderProblems(d.problems);
    if (d.summary) handlers.summary(d.summary);
    later('rates', 'events', 'series');
    if (page.selected) select(page.selected);
  },
  tick(d) {
    page.rates.push(d.rate);
    if (page.rates.length > MAX_RATES) page.rates.shift();
    renderSnapshot(d.snapshot, d.rate);
    later('rates');
  },
  points(d) {
    for (const [key, point] of Object.entries(d.points)) {
      addSeries(key);
      if (key === page.selected) {
        page.tail.push(point);
        if (page.tail.length > MAX_TAIL) page.tail.shift();
        later('tail');
      }
    }
  },
  derived(d) {
    page.events.push(...d.events);
    if (page.events.length > MAX_EVENTS) page.events.splice(0, page.events.length - MAX_EVENTS);
    $('events-omitted').textContent = d.omitted > 0 ? `(${int.format(d.omitted)} more this second, not listed)` : '';
    later('events');
  },
  rollup(d) {
    for (const [key, ...point] of d.buckets) {
      addSeries(key);
      if (key === page.selected) page.rollup.set(point[0], point);
    }
    later('rollup');
  },
  oee(d) {
    renderOee(d.units);
  },
  warehouse(d) {
    renderDelay(d.delay);
  },
  viewers(d) {
    renderViewers(d);
  },
  problems(d) {
    renderProblems(d);
  },
  summary(d) {
    page.finished = true;
    renderSummary(d);
    setStatus('run finished', 'finished');
    stream.close();
  },
};

function acknowledge() {
  clearTimeout(page.ackTimer);
  page.ackTimer = null;
  if (!page.viewer || page.lastSeq <= page.ackedSeq) return;
  page.ackedSeq = page.lastSeq;
  page.lastAckAt = Date.now();
  page.unackedBytes = 0;
  fetch(`/ack?viewer=${page.viewer}&seq=${page.lastSeq}`, { method: 'POST' }).catch(() => undefined);
}

const stream = new EventSource('/live');
for (const [name, handle] of Object.entries(handlers)) {
  stream.addEventListener(name, (e) => {
    page.lastSeq = Number(e.lastEventId);
    page.unackedBytes += e.data.length;
    handle(JSON.parse(e.data));
    // Acknowledged from the message handler, not only from a timer: timers of a hidden tab are throttled.
    if (Date.now() - page.lastAckAt >= ACK_EVERY_MS || page.unackedBytes >= page.windowBytes / 4) acknowledge();
    else page.ackTimer ??= setTimeout(acknowledge, ACK_EVERY_MS);
  });
}
stream.addEventListener('error', () => {
  if (!page.finished) setStatus(stream.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…', 'lost');
});
