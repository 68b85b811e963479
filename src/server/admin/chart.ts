/**
 * The dashboard's chart of refreshes and errors over the last 24 hours, as server-rendered SVG (no
 * script, no external resource; presentation attributes only, so the strict CSP allows it).
 */
import type { ActivityBucket } from '../ops/metrics.js';
import { html, type SafeHtml } from '../http/html.js';

const W = 720;
const H = 200;
const PAD_L = 36;
const PAD_B = 22;
const PAD_T = 10;
const HOUR_BARS = 48; // half-hour bars

/** Sums 5-minute buckets into half-hour bars (oldest first). */
export function toBars(series: readonly ActivityBucket[], bars = HOUR_BARS): ActivityBucket[] {
  const per = Math.max(1, Math.floor(series.length / bars));
  const out: ActivityBucket[] = [];
  for (let i = series.length - bars * per; i < series.length; i += per) {
    let refreshes = 0;
    let errors = 0;
    for (let j = Math.max(0, i); j < i + per; j++) {
      refreshes += series[j]?.refreshes ?? 0;
      errors += series[j]?.errors ?? 0;
    }
    out.push({ start: series[Math.max(0, i)]?.start ?? 0, refreshes, errors });
  }
  return out;
}

/** A round axis maximum at or above `n` (1, 2, 5 × 10^k). */
function niceMax(n: number): number {
  if (n <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

/**
 * The chart: a bar per half hour, refreshes in blue with errors stacked in red, hour ticks every
 * six hours, and a text alternative for screen readers.
 *
 * @example
 * html`<div class="chart">${activityChart(metrics.activitySeries())}</div>`
 */
export function activityChart(series: readonly ActivityBucket[]): SafeHtml {
  const bars = toBars(series);
  const max = niceMax(Math.max(0, ...bars.map((b) => b.refreshes + b.errors)));
  const plotW = W - PAD_L - 6;
  const plotH = H - PAD_T - PAD_B;
  const bw = plotW / bars.length;
  const y = (v: number): number => PAD_T + plotH - (v / max) * plotH;
  const totalR = bars.reduce((a, b) => a + b.refreshes, 0);
  const totalE = bars.reduce((a, b) => a + b.errors, 0);
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = Math.round(max * f);
    return html`<line
        x1="${PAD_L}"
        x2="${W - 6}"
        y1="${y(v).toFixed(1)}"
        y2="${y(v).toFixed(1)}"
        stroke="#e3e6ea"
        stroke-width="1"
      />
      <text x="${PAD_L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#5b6470"
        >${v}</text
      >`;
  });
  const rects = bars.map((b, i) => {
    const x = PAD_L + i * bw + 1;
    const w = Math.max(1, bw - 2);
    const rTop = y(b.refreshes);
    const eTop = y(b.refreshes + b.errors);
    const label = `${new Date(b.start).toISOString().slice(11, 16)} UTC: ${b.refreshes} refreshes, ${b.errors} errors`;
    return html`<g
      ><title>${label}</title>${
        b.refreshes > 0
          ? html`<rect
              x="${x.toFixed(1)}"
              y="${rTop.toFixed(1)}"
              width="${w.toFixed(1)}"
              height="${(y(0) - rTop).toFixed(1)}"
              rx="1.5"
              fill="#2457d6"
            />`
          : ''
      }${
        b.errors > 0
          ? html`<rect
              x="${x.toFixed(1)}"
              y="${eTop.toFixed(1)}"
              width="${w.toFixed(1)}"
              height="${(rTop - eTop).toFixed(1)}"
              rx="1.5"
              fill="#d92d20"
            />`
          : ''
      }</g
    >`;
  });
  const ticks = bars
    .map((b, i) => ({ b, i }))
    .filter(({ b }) => new Date(b.start).getUTCMinutes() === 0 && new Date(b.start).getUTCHours() % 6 === 0)
    .map(
      ({ b, i }) =>
        html`<text x="${(PAD_L + i * bw).toFixed(1)}" y="${H - 6}" font-size="11" fill="#5b6470"
          >${new Date(b.start).toISOString().slice(11, 16)}</text
        >`,
    );
  return html`<svg
      viewBox="0 0 ${W} ${H}"
      role="img"
      aria-label="Last 24 hours: ${totalR} refreshes, ${totalE} errors"
      xmlns="http://www.w3.org/2000/svg"
    >
      ${grid}${rects}${ticks}
    </svg>
    <div class="legend">
      <span><i class="r"></i>Refreshes (${totalR})</span><span><i class="e"></i>Errors (${totalE})</span>
    </div>`;
}
