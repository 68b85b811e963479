/**
 * Refresh pacing (issue 9, item 3, last part): token lifetimes compressed with the emulator's token
 * TTL, a fleet of sellers whose tokens all expire together, and the LWA refresh calls per second over
 * time, plotted to `bench/refresh-rate.svg`. The product asks for proactive refreshes spread so that
 * the peak LWA rate stays under a configured limit; the service has no proactive refresher and no
 * such setting yet, so this measures what exists — refreshes made on demand by token requests — and
 * reports the target as not met (missing feature).
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
  sleep,
  startServe,
} from './harness.js';

const SELLERS = 1000;
const TTL_S = 10;
const RUN_S = 24;
const REQUESTS_PER_S = 200;
const SAMPLE_MS = 500;
const SVG = 'bench/refresh-rate.svg';

/** A small line chart of calls per second over time (plain SVG, no dependencies). */
export function lineChart(opts: {
  title: string;
  points: ReadonlyArray<readonly [number, number]>;
  xLabel: string;
  yLabel: string;
  limit?: number;
}): string {
  const W = 720;
  const H = 320;
  const L = 60;
  const R = 20;
  const T = 40;
  const B = 50;
  const xMax = Math.max(1, ...opts.points.map((p) => p[0]));
  const yMax = Math.max(1, opts.limit ?? 0, ...opts.points.map((p) => p[1])) * 1.1;
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
    `<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="${opts.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`,
  );
  if (opts.limit !== undefined) {
    out.push(
      `<line x1="${L}" x2="${W - R}" y1="${y(opts.limit)}" y2="${y(opts.limit)}" stroke="#d73a49" stroke-dasharray="6 4"/>`,
      `<text x="${W - R}" y="${y(opts.limit) - 4}" text-anchor="end" fill="#d73a49">limit ${opts.limit}/s</text>`,
    );
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
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
    try {
      const ring = newKeyRing();
      const databaseUrl = `sqlite:${join(tmp, 'refresh.db')}`;
      const store = await openStore(databaseUrl, { keyRing: parseKeyRing(ring) });
      const apiKey = await createKey(store);
      // Every seller authorized through consent and a code exchange, its first access token stored:
      // they all expire within a second or two of each other.
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
      log(`authorized ${SELLERS} sellers with ${TTL_S} s tokens`);
      const svc = await startServe(
        serveEnv({
          amazonUrl: emu.url,
          databaseUrl,
          keyRing: ring,
          extra: { SPAPI_AUTH_KEY_RATE_LIMIT: '0' },
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
        // Calls per second between consecutive samples.
        const rate: Array<[number, number]> = [];
        for (let i = 1; i < samples.length; i++) {
          const [ta, ca] = samples[i - 1]!;
          const [tb, cb] = samples[i]!;
          rate.push([Number(tb.toFixed(2)), (cb - ca) / (tb - ta)]);
        }
        const peak = Math.max(0, ...rate.map((r) => r[1]));
        const total = samples.at(-1)![1];
        writeFileSync(
          join(ROOT, SVG),
          lineChart({
            title: `LWA refresh calls/s: ${SELLERS} sellers, ${TTL_S} s tokens, ${REQUESTS_PER_S} token requests/s (no proactive refresher)`,
            points: rate,
            xLabel: 'seconds since start',
            yLabel: 'LWA refresh calls per second',
          }),
        );
        log(
          `peak ${peak.toFixed(0)} LWA calls/s, ${total} refreshes, ${failed} failed requests; wrote ${SVG}`,
        );
        return {
          rows: [
            {
              metric: `LWA refreshes in ${RUN_S} s (${SELLERS} sellers, ${TTL_S} s tokens, ${REQUESTS_PER_S} token requests/s)`,
              result: `${total} (${sent} token requests, ${failed} failed)`,
            },
            {
              metric: `peak LWA refresh rate (per ${SAMPLE_MS} ms sample)`,
              result: `${peak.toFixed(0)} calls/s`,
              target: 'under a configured limit, refreshes spread ahead of expiry',
              met: false,
            },
          ],
          notes: [
            `![LWA refresh calls per second](refresh-rate.svg)`,
            `**Not met — missing feature.** The service refreshes only on demand (a token request that finds the token within its margin of expiry); it has no proactive refresher that renews tokens ahead of expiry in the background, and no setting for a peak LWA call rate (nothing in \`src/config.ts\` or product.md's configuration table), so there is no limit to stay under. What the plot shows is the on-demand behaviour: ${SELLERS} sellers authorized within seconds of each other get tokens that all reach their refresh point (expiry − the margin, a fifth of the ${TTL_S} s lifetime here) together, and the refresh rate then follows the request rate for stale sellers — with the real one-hour lifetime, the same burst happens an hour after a mass (re-)authorization. To meet the target, a refresher would pick sellers whose token expires within a window (the store has \`access_token_expires_at\`), refresh them through the token manager (same single-flight and lease) from a token bucket of \`SPAPI_AUTH_REFRESH_RATE_LIMIT\` calls/s, and start early enough that the bucket's rate covers the fleet before expiry.`,
            `Method: emulator in the benchmark process (50 ms LWA latency, \`tokenTtlS: ${TTL_S}\`), ${SELLERS} test sellers authorized through consent and a code exchange and stored with their first access token; one \`spapi-auth serve\` process on SQLite; a client sending ${REQUESTS_PER_S} token requests/s round-robin over the fleet for ${RUN_S} s; the emulator's refresh count sampled every ${SAMPLE_MS} ms.`,
          ],
        };
      } finally {
        await svc.stop();
      }
    } finally {
      await emu.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
