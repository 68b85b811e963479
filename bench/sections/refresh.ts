/**
 * Refresh pacing: token lifetimes compressed with the emulator's token TTL, a fleet of sellers whose
 * tokens all expire together, steady token requests, and the LWA refresh calls per second over time
 * (plotted to `bench/refresh-rate.svg`) — once with the proactive refresher off (refreshes on demand
 * only: the burst follows the request rate) and once with it on at `SPAPI_AUTH_REFRESH_RATE_LIMIT`
 * (the target: the peak stays under that limit, tokens renewed before requests would refresh them).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildConsentUrl,
  createState,
  exchangeAuthorizationCode,
  parseCallback,
} from '../../src/core/index.js';
import { DEV_APPLICATION, startEmulator, type EmulatorSeller } from '../../src/emulator/index.js';
import { parseKeyRing } from '../../src/storage/crypto.js';
import { openStore } from '../../src/storage/open.js';
import type { BenchSection } from '../framework.js';
import {
  createKey,
  CREDS,
  newKeyRing,
  REDIRECT,
  refreshCalls,
  ROOT,
  serveEnv,
  serveRuntime,
  sleep,
  startServe,
} from './harness.js';

const SELLERS = 1000;
const TTL_S = 30;
const RUN_S = 36;
const REQUESTS_PER_S = 200;
const SAMPLE_MS = 500;
/** `SPAPI_AUTH_REFRESH_RATE_LIMIT` of the proactive run (the fleet needs about 1000 / 21 s ≈ 48/s). */
const LIMIT = 100;
const SVG = 'bench/refresh-rate.svg';

/** A small line chart of calls per second over time (plain SVG, no dependencies). */
export function lineChart(opts: {
  title: string;
  points: ReadonlyArray<readonly [number, number]>;
  xLabel: string;
  yLabel: string;
  limit?: number;
  /** Legend of `points` when `more` is given. */
  label?: string;
  /** More lines on the same axes. */
  more?: ReadonlyArray<{ label: string; color: string; points: ReadonlyArray<readonly [number, number]> }>;
}): string {
  const series = [{ label: opts.label ?? '', color: '#1f6feb', points: opts.points }, ...(opts.more ?? [])];
  const all = series.flatMap((s) => s.points);
  const W = 720;
  const H = 320;
  const L = 60;
  const R = 20;
  const T = 40;
  const B = 50;
  const xMax = Math.max(1, ...all.map((p) => p[0]));
  const yMax = Math.max(1, opts.limit ?? 0, ...all.map((p) => p[1])) * 1.1;
  const x = (v: number): number => L + (v / xMax) * (W - L - R);
  const y = (v: number): number => H - B - (v / yMax) * (H - T - B);
  const ticks = (max: number, n: number): number[] => {
    const step = Math.pow(10, Math.floor(Math.log10(max / n)));
    const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => max / s <= n) ?? step * 10;
    return Array.from({ length: Math.floor(max / nice) + 1 }, (_, i) => i * nice);
  };
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${opts.title}</text>`,
  ];
  for (const t of ticks(yMax, 6)) {
    out.push(
      `<line x1="${L}" x2="${W - R}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/>`,
      `<text x="${L - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`,
    );
  }
  for (const t of ticks(xMax, 12)) {
    out.push(`<text x="${x(t)}" y="${H - B + 16}" text-anchor="middle">${t}</text>`);
  }
  out.push(
    `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>`,
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${opts.xLabel}</text>`,
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${opts.yLabel}</text>`,
  );
  series.forEach((s, i) => {
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`,
    );
    if (opts.more !== undefined) {
      const ly = T + 6 + i * 16;
      out.push(
        `<line x1="${L + 12}" x2="${L + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`,
        `<text x="${L + 42}" y="${ly + 4}">${s.label}</text>`,
      );
    }
  });
  if (opts.limit !== undefined) {
    out.push(
      `<line x1="${L}" x2="${W - R}" y1="${y(opts.limit)}" y2="${y(opts.limit)}" stroke="#d73a49" stroke-dasharray="6 4"/>`,
      `<text x="${W - R}" y="${y(opts.limit) - 4}" text-anchor="end" fill="#d73a49">limit ${opts.limit}/s</text>`,
    );
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** What one run measured. */
interface PacingRun {
  /** Calls per second between consecutive samples, at seconds since the start. */
  readonly rate: Array<[number, number]>;
  readonly peak: number;
  readonly total: number;
  readonly sent: number;
  readonly failed: number;
}

export const refresh: BenchSection = {
  name: 'refresh',
  title: 'Refresh pacing with compressed token lifetimes',
  async run({ log }) {
    const sellers: EmulatorSeller[] = Array.from({ length: SELLERS }, (_, i) => ({
      sellingPartnerId: `A1PACE${String(i).padStart(6, '0')}`,
      name: `Pace seller ${i}`,
      kind: 'seller',
      regions: ['na'],
      marketplaces: ['US'],
    }));
    const tmp = mkdtempSync(join(tmpdir(), 'spapi-auth-bench-'));
    const emu = await startEmulator({
      port: 0,
      consentMode: 'auto',
      latencyMs: 50,
      tokenTtlS: TTL_S,
      sellers,
    });

    /** A fresh store with every seller authorized through consent and a code exchange, tokens expiring together. */
    const seed = async (name: string): Promise<{ databaseUrl: string; ring: string; apiKey: string }> => {
      const ring = newKeyRing();
      const databaseUrl = `sqlite:${join(tmp, `${name}.db`)}`;
      const store = await openStore(databaseUrl, { keyRing: parseKeyRing(ring) });
      const apiKey = await createKey(store);
      const codes: Array<[string, string]> = [];
      for (const s of sellers) {
        await emu.emulator.control.consentMode('auto', s.sellingPartnerId);
        const res = await emu.emulator.fetch(
          buildConsentUrl({
            marketplace: 'US',
            applicationId: DEV_APPLICATION.id,
            state: createState(),
            redirectUri: REDIRECT,
            amazonUrl: emu.url,
          }),
          { redirect: 'manual' },
        );
        const cb = parseCallback(res.headers.get('location') ?? '');
        if (!cb.ok) throw new Error('consent failed');
        codes.push([s.sellingPartnerId, cb.spapiOauthCode]);
      }
      for (let i = 0; i < codes.length; i += 100) {
        await Promise.all(
          codes.slice(i, i + 100).map(async ([id, code]) => {
            const t = await exchangeAuthorizationCode(
              CREDS,
              { code, redirectUri: REDIRECT },
              { fetch: emu.emulator.fetch, amazonUrl: emu.url },
            );
            await store.saveAuthorization({
              sellingPartnerId: id,
              region: 'na',
              kind: 'seller',
              userRef: id,
              marketplace: 'US',
              refreshToken: t.refreshToken,
              accessToken: { accessToken: t.accessToken, expiresAt: t.expiresAt },
            });
          }),
        );
      }
      await store.close();
      return { databaseUrl, ring, apiKey };
    };

    /** One serve process at `limit` proactive refreshes/s (0 = off) under steady token requests. */
    const measure = async (limit: number): Promise<PacingRun> => {
      const { databaseUrl, ring, apiKey } = await seed(`refresh-${limit}`);
      log(`authorized ${SELLERS} sellers with ${TTL_S} s tokens; SPAPI_AUTH_REFRESH_RATE_LIMIT=${limit}`);
      const svc = await startServe(
        serveEnv({
          amazonUrl: emu.url,
          databaseUrl,
          keyRing: ring,
          extra: { SPAPI_AUTH_KEY_RATE_LIMIT: '0', SPAPI_AUTH_REFRESH_RATE_LIMIT: String(limit) },
        }),
      );
      try {
        const headers = { authorization: `Bearer ${apiKey}` };
        const base = await refreshCalls(emu);
        const samples: Array<[number, number]> = [];
        const t0 = performance.now();
        let stop = false;
        const sampler = (async () => {
          while (!stop) {
            samples.push([(performance.now() - t0) / 1000, (await refreshCalls(emu)) - base]);
            await sleep(SAMPLE_MS);
          }
        })();
        // Steady demand: REQUESTS_PER_S token requests per second, round-robin over the fleet.
        let failed = 0;
        let sent = 0;
        const inflight = new Set<Promise<void>>();
        while (performance.now() - t0 < RUN_S * 1000) {
          const due = Math.floor(((performance.now() - t0) / 1000) * REQUESTS_PER_S);
          while (sent < due && inflight.size < 200) {
            const id = sellers[sent++ % SELLERS]!.sellingPartnerId;
            const p: Promise<void> = fetch(`${svc.url}/v1/sellers/${id}/access-token`, { headers })
              .then(async (r) => {
                await r.arrayBuffer();
                if (r.status !== 200) failed++;
              })
              .catch(() => void failed++)
              .finally(() => inflight.delete(p));
            inflight.add(p);
          }
          await sleep(20);
        }
        await Promise.all(inflight);
        stop = true;
        await sampler;
        const rate: Array<[number, number]> = [];
        for (let i = 1; i < samples.length; i++) {
          const [ta, ca] = samples[i - 1]!;
          const [tb, cb] = samples[i]!;
          rate.push([Number(tb.toFixed(2)), (cb - ca) / (tb - ta)]);
        }
        const peak = Math.max(0, ...rate.map((r) => r[1]));
        const total = samples.at(-1)![1];
        log(
          `limit ${limit}: peak ${peak.toFixed(0)} LWA calls/s, ${total} refreshes, ${failed} failed requests`,
        );
        return { rate, peak, total, sent, failed };
      } finally {
        await svc.stop();
      }
    };

    try {
      const onDemand = await measure(0);
      const paced = await measure(LIMIT);
      writeFileSync(
        join(ROOT, SVG),
        lineChart({
          title: `LWA refresh calls/s: ${SELLERS} sellers, ${TTL_S} s tokens, ${REQUESTS_PER_S} token requests/s`,
          points: paced.rate,
          label: `proactive refresher, SPAPI_AUTH_REFRESH_RATE_LIMIT=${LIMIT}`,
          more: [{ label: 'on demand only (limit 0)', color: '#8b949e', points: onDemand.rate }],
          xLabel: 'seconds since start',
          yLabel: 'LWA refresh calls per second',
          limit: LIMIT,
        }),
      );
      log(`wrote ${SVG}`);
      const runs = (r: PacingRun): string => `${r.total} (${r.sent} token requests, ${r.failed} failed)`;
      return {
        rows: [
          {
            metric: `on demand only (\`SPAPI_AUTH_REFRESH_RATE_LIMIT=0\`): LWA refreshes in ${RUN_S} s`,
            result: runs(onDemand),
          },
          {
            metric: `on demand only: peak LWA refresh rate (per ${SAMPLE_MS} ms sample)`,
            result: `${onDemand.peak.toFixed(0)} calls/s`,
          },
          {
            metric: `proactive refresher (\`SPAPI_AUTH_REFRESH_RATE_LIMIT=${LIMIT}\`): LWA refreshes in ${RUN_S} s`,
            result: runs(paced),
          },
          {
            metric: `proactive refresher: peak LWA refresh rate (per ${SAMPLE_MS} ms sample, proactive and on-demand refreshes together)`,
            result: `${paced.peak.toFixed(0)} calls/s`,
            target: `under the configured limit (${LIMIT}/s)`,
            met: paced.peak <= LIMIT && paced.failed === 0,
          },
        ],
        notes: [
          `![LWA refresh calls per second](refresh-rate.svg)`,
          `The ${SELLERS} sellers are authorized within a couple of seconds of each other, so their ${TTL_S} s tokens all reach their refresh point (expiry − a fifth of the lifetime here; 5 min + jitter with real one-hour tokens) together. On demand only, the refresh rate then follows the request rate for stale sellers (the grey line). With the proactive refresher (\`src/server/tokens/refresher.ts\`), each instance lists active sellers by access-token expiry (\`Store.listRefreshDue\`, index \`sellers_refresh_due\`), works out the latest start that still renews every listed token before requests would (each token needs its place in the queue ÷ the rate), and refreshes from a token bucket of 0.95 × \`SPAPI_AUTH_REFRESH_RATE_LIMIT\` per second holding one call (no bursts), through the token manager (single-flight and the store lease, so instances sharing a store refresh a seller once). A few refreshes happen at once after the start (until one shows the real lifetime, every ${TTL_S} s token falls inside the window of the one-hour lifetime assumed by default); the refresher then waits until the latest start that still covers the whole fleet at the paced rate, sweeps it, and repeats a lifetime later — the fleet's expiries are now spread over the sweep. The price is renewing tokens before their refresh point: more refreshes over time than on demand (here tokens are renewed at about 70 % of their ${TTL_S} s life; one-hour tokens are renewed 6½–7 minutes early, about 12 % more refreshes).`,
          `Method: emulator in the benchmark process (50 ms LWA latency, \`tokenTtlS: ${TTL_S}\`), ${SELLERS} test sellers authorized through consent and a code exchange and stored with their first access token (a fresh SQLite store per run); one \`spapi-auth serve\` process (${serveRuntime().label}) per run; a client sending ${REQUESTS_PER_S} token requests/s round-robin over the fleet for ${RUN_S} s; the emulator's refresh count (every \`grant_type=refresh_token\` call, proactive or on demand) sampled every ${SAMPLE_MS} ms.`,
        ],
      };
    } finally {
      await emu.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
