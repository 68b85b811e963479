/**
 * No socket pattern starves the token API: `GET /v1/sellers/:id/access-token` from cache, driven
 * by autocannon (fresh clients from 127.0.0.1), in rounds side by side in one run — quiet, and
 * while one attacker process on another address (127.1.0.1) holds as many connections as it can
 * in one pattern: "busy" (the headers of `POST /admin/login` and no body; or a body at 100 bytes a
 * second), "slow-reading" (eight pipelined `GET /openapi.json` never read) and "idle" (connections
 * that send nothing). Each attack round's requests per second as a ratio to the quiet rounds on
 * either side of it (the same process, minutes apart), so that the machine's drift over the run
 * and the process's own state are the same on both sides of the ratio.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../src/emulator/index.js';
import {
  connectionShare,
  DEFAULT_MAX_CONNECTIONS,
  MAX_PIPELINED,
} from '../../src/server/http/connections.js';
import { MIN_BODY_BYTES_PER_S } from '../../src/server/http/node.js';
import { parseKeyRing } from '../../src/storage/crypto.js';
import { openStore } from '../../src/storage/open.js';
import { si, type BenchSection } from '../framework.js';
import type { SocketMode, SocketReport } from './attacker.js';
import {
  authorize,
  autocannon,
  cpuMs,
  createKey,
  loadAverage,
  newKeyRing,
  sampler,
  serveEnv,
  serveRuntime,
  sleep,
  startAttacker,
  startServe,
  type LoadResult,
} from './harness.js';
import { pinned } from './token-api.js';

const SELLER = 'A1EMUSELLERNA01';
const CONNECTIONS = 100;
const SECONDS = 10;
/** Connections the attacker tries to hold: well past its share of the cap. */
const ATTACK_TARGET = 3_000;
/** The attacker's address: not 127.0.0.1 (autocannon's), and in another /24. */
const ATTACKER_ADDRESS = '127.1.0.1';
const RAMP_MS = 3_000;
/** How long each attack pattern runs in the warm-up, before the rounds that count. */
const WARM_ATTACK_MS = 2_000;

interface Round {
  readonly label: string;
  /** `cold`: before the process answered anything but the token route; `quiet`: a reference. */
  readonly role: 'cold' | 'quiet' | 'attack';
  readonly mode: SocketMode | undefined;
  readonly load: LoadResult;
  readonly attack: SocketReport | undefined;
  /** Connections the service held open mid-round, autocannon's and the metrics read excluded. */
  readonly serviceHeld: number | undefined;
  /** Of those, held beside the attacker's share (waiting for a request or its refusal). */
  readonly serviceWaiting: number | undefined;
  readonly rssPeak: number;
  /** CPU time (ms) over the load run: the service's and the attacker's. */
  readonly serviceCpuMs: number;
  readonly attackerCpuMs: number;
}

/** Open connections from `/metrics`: active + idle, and those held beside a client's share. */
async function serviceConnections(
  base: string,
): Promise<{ open: number; held: number; heapUsed: number; gcSeconds: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const heap = /^nodejs_heap_size_used_bytes (\S+)/m.exec(text);
  let gcSeconds = 0;
  for (const m of text.matchAll(/^nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)/gm))
    gcSeconds += Number(m[1]);
  let open = 0;
  for (const m of text.matchAll(/^spapi_auth_http_connections\{state="(?:active|idle)"\} (\d+)/gm))
    open += Number(m[1]);
  const held = /^spapi_auth_http_connections\{state="held"\} (\d+)/m.exec(text);
  return {
    open,
    held: held === null ? 0 : Number(held[1]),
    heapUsed: heap === null ? NaN : Number(heap[1]),
    gcSeconds,
  };
}

const MODES = ['headers', 'slow-body', 'slow-read', 'idle'] as const;

const LABELS: Readonly<Record<SocketMode, string>> = {
  headers: 'busy: headers of `POST /admin/login`, no body',
  'slow-body': 'busy: `POST /admin/login` body at 100 B/s',
  'slow-read': `slow-reading: ${MAX_PIPELINED} pipelined \`GET /openapi.json\`, never read`,
  idle: 'idle: connections that send nothing',
};

export const sockets: BenchSection = {
  name: 'sockets',
  title: 'The token API while one client holds connections (busy, slow-reading, idle)',
  async run({ log }) {
    const machineLoad = loadAverage();
    const tmp = mkdtempSync(join(tmpdir(), 'spapi-auth-bench-sockets-'));
    const emu = await startEmulator({ port: 0, consentMode: 'auto' });
    const rounds: Round[] = [];
    try {
      const ring = newKeyRing();
      const databaseUrl = `sqlite:${join(tmp, 'sockets.db')}`;
      const store = await openStore(databaseUrl, { keyRing: parseKeyRing(ring) });
      const apiKey = await createKey(store);
      await store.saveAuthorization({
        sellingPartnerId: SELLER,
        region: 'na',
        kind: 'seller',
        userRef: 'bench',
        marketplace: 'US',
        refreshToken: await authorize(emu, SELLER),
      });
      await store.close();
      const svc = await startServe(
        serveEnv({
          amazonUrl: emu.url,
          databaseUrl,
          keyRing: ring,
          extra: {
            SPAPI_AUTH_KEY_RATE_LIMIT: '0',
            SPAPI_AUTH_ADMIN_PASSWORD: 'bench-admin-password-not-secret',
          },
        }),
        [],
        pinned(0),
      );
      try {
        const url = `${svc.url}/v1/sellers/${SELLER}/access-token`;
        const headers = { authorization: `Bearer ${apiKey}` };
        const first = await fetch(url, { headers });
        await first.arrayBuffer();
        if (first.status !== 200) throw new Error(`token API answered ${first.status}`);
        const loginPage = await fetch(`${svc.url}/admin/login`);
        await loginPage.arrayBuffer();
        const cookie = (loginPage.headers.get('set-cookie') ?? '').split(';')[0]!;
        if (cookie === '') throw new Error('no pre-login admin session cookie');
        const port = Number(new URL(svc.url).port);
        await autocannon(url, { connections: CONNECTIONS, seconds: 2, headers, prefix: pinned(1) }); // warm-up
        const attackerFor = (mode: SocketMode) =>
          startAttacker<SocketReport>(
            {
              kind: 'sockets',
              host: '127.0.0.1',
              port,
              localAddress: ATTACKER_ADDRESS,
              mode,
              target: ATTACK_TARGET,
              cookie,
            },
            pinned(1),
          );
        const round = async (
          role: Round['role'],
          mode: SocketMode | undefined,
          label: string,
        ): Promise<void> => {
          const rss = sampler(() => svc.rss(), 250);
          const attacker = mode === undefined ? undefined : attackerFor(mode);
          let attack: SocketReport | undefined;
          let load: LoadResult;
          let held: number | undefined;
          let waiting: number | undefined;
          let svcCpu = 0;
          let atkCpu = 0;
          try {
            if (attacker !== undefined) await sleep(RAMP_MS);
            svcCpu = cpuMs(svc.pid);
            atkCpu = attacker === undefined ? 0 : cpuMs(attacker.pid);
            const running = autocannon(url, {
              connections: CONNECTIONS,
              seconds: SECONDS,
              headers,
              prefix: pinned(1),
            });
            await sleep((SECONDS * 1000) / 2);
            const conns = await serviceConnections(svc.url);
            held = Math.max(0, conns.open - CONNECTIONS - 1);
            waiting = conns.held;
            load = await running;
            const after = await serviceConnections(svc.url);
            log(
              `   heap used ${(after.heapUsed / 2 ** 20).toFixed(0)} MiB, GC ${after.gcSeconds.toFixed(2)} s since start, mid-round GC ${conns.gcSeconds.toFixed(2)} s`,
            );
            svcCpu = cpuMs(svc.pid) - svcCpu;
            atkCpu = attacker === undefined ? 0 : cpuMs(attacker.pid) - atkCpu;
          } finally {
            attack = await attacker?.stop();
          }
          rounds.push({
            label,
            role,
            mode,
            load,
            attack,
            serviceHeld: held,
            serviceWaiting: waiting,
            rssPeak: rss.stop(),
            serviceCpuMs: svcCpu,
            attackerCpuMs: atkCpu,
          });
          log(
            `${label}: ${si(load.requestsPerSecond)} req/s, service CPU ${(svcCpu / SECONDS / 10).toFixed(0)} %, attacker CPU ${(atkCpu / SECONDS / 10).toFixed(0)} % (${load.non2xx} non-2xx, ${load.errors} errors), service holds ${held} other connections` +
              (attack === undefined
                ? ''
                : `; attacker opened ${attack.opened}, ${attack.refused} refused, statuses ${JSON.stringify(attack.byStatus)}`),
          );
          await sleep(1_000); // the attacker's sockets close
        };
        await round('cold', undefined, 'cold: before any other kind of request');
        // A service in production has answered every kind of request long before it is attacked;
        // one that has only ever answered the token route runs it faster than it ever will again
        // (its code has seen one shape of everything). Each pattern runs briefly first, so the
        // quiet rounds and the attack rounds all measure a process that has seen them all.
        for (const mode of MODES) {
          const warm = attackerFor(mode);
          await sleep(WARM_ATTACK_MS);
          await warm.stop();
        }
        await sleep(1_000);
        await round('quiet', undefined, 'quiet (reference)');
        for (const [i, mode] of MODES.entries()) {
          await round('attack', mode, LABELS[mode]);
          await round('quiet', undefined, `quiet (reference, after ${i + 1} of ${MODES.length} attacks)`);
        }
      } finally {
        await svc.stop();
      }
    } finally {
      await emu.close();
      rmSync(tmp, { recursive: true, force: true });
    }
    const usPerRequest = (r: Round): number => (r.serviceCpuMs * 1000) / Math.max(1, r.load.total);
    /** An attack round's references: the quiet rounds just before and just after it. */
    const references = (i: number): { rps: number; us: number } => {
      const around = [rounds[i - 1], rounds[i + 1]].filter((r) => r?.role === 'quiet') as Round[];
      const mean = (f: (r: Round) => number): number =>
        around.reduce((sum, r) => sum + f(r), 0) / Math.max(1, around.length);
      return { rps: mean((r) => r.load.requestsPerSecond), us: mean(usPerRequest) };
    };
    const cold = rounds.find((r) => r.role === 'cold')!;
    /** The service's CPU time per attacker connection (µs): its CPU beyond the token requests' quiet cost. */
    const perConnectionUs = (r: Round, quietUs: number): number =>
      r.attack === undefined
        ? NaN
        : ((r.serviceCpuMs - (r.load.total * quietUs) / 1000) * 1000) /
          Math.max(1, (r.attack.opened * SECONDS) / (SECONDS + RAMP_MS / 1000));
    const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
    const share = connectionShare(DEFAULT_MAX_CONNECTIONS);
    return {
      rows: rounds.map((r, i) => {
        const failures = r.load.non2xx + r.load.errors;
        const common = `p99 ${r.load.p99Ms} ms, ${failures} non-2xx or errors; RSS peak ${mib(r.rssPeak)}; service CPU ${(r.serviceCpuMs / SECONDS / 10).toFixed(0)} % of a core, ${usPerRequest(r).toFixed(1)} µs per token request`;
        if (r.role !== 'attack') {
          const vsCold =
            r.role === 'cold'
              ? ''
              : ` = ${(r.load.requestsPerSecond / cold.load.requestsPerSecond).toFixed(2)}× the cold round`;
          return {
            metric: `${r.label}: token API requests/s`,
            result: `${si(r.load.requestsPerSecond)} req/s${vsCold} (${common})`,
          };
        }
        const ref = references(i);
        const ratio = r.load.requestsPerSecond / ref.rps;
        const held = [...r.attack!.openSamples].sort((a, b) => a - b);
        const attack = r.attack!;
        return {
          metric: `${r.label}: token API requests/s ÷ the quiet rounds beside it`,
          result: `${si(r.load.requestsPerSecond)} req/s = ${ratio.toFixed(2)}× (${si(ref.rps)} req/s; ${(r.load.requestsPerSecond / cold.load.requestsPerSecond).toFixed(2)}× the cold round) (${common} = ${(ref.us / usPerRequest(r)).toFixed(2)}× the quiet rounds' throughput on a core of its own, attacker CPU ${(r.attackerCpuMs / SECONDS / 10).toFixed(0)} %, ${(attack.opened / (SECONDS + RAMP_MS / 1000)).toFixed(0)} connections opened a second, ≈ ${perConnectionUs(r, ref.us).toFixed(0)} µs of service CPU per attacker connection; attacker: ${held[held.length >> 1] ?? 0} connections open (median of its samples, max ${held[held.length - 1] ?? 0}), service held ${r.serviceHeld} in its share besides autocannon's and ${r.serviceWaiting} waiting beside it; ${attack.opened.toLocaleString('en-US')} opened, ${attack.refused.toLocaleString('en-US')} refused (503), ${attack.closedByService.toLocaleString('en-US')} closed by the service, statuses ${
            Object.entries(attack.byStatus)
              .map(([st, n]) => `${st}×${n}`)
              .join(' ') || 'none'
          })`,
          target: '≥ 0.9×',
          met: ratio >= 0.9 && failures === 0,
        };
      }),
      notes: [
        `Method: one \`spapi-auth serve\` (${serveRuntime().label}, SQLite, the defaults: at most ${DEFAULT_MAX_CONNECTIONS.toLocaleString('en-US')} connections, ${share.perAddress.toLocaleString('en-US')} per address and ${share.perNetwork.toLocaleString('en-US')} per /24; headers within 10 s, a body at ${MIN_BODY_BYTES_PER_S} B/s or better after 2 s, a response taken within 10 s, at most ${MAX_PIPELINED} pipelined requests; an admin password set so that \`POST /admin/login\` with a pre-login session cookie reads its body), pinned to CPU 0. autocannon (${CONNECTIONS} keep-alive connections from 127.0.0.1, ${SECONDS} s a round, after a 2 s warm-up) and the attacker (a process of its own on ${ATTACKER_ADDRESS}, another address in another /24, trying to hold ${ATTACK_TARGET.toLocaleString('en-US')} connections, reopening each one the service closes, started ${RAMP_MS / 1000} s before autocannon) share CPU 1 — so the attack rounds also take CPU from the load generator, which only makes them look worse. Rounds one after the other in one run, on one process: a cold round (the process has answered only the token route so far), then each attack pattern for ${WARM_ATTACK_MS / 1000} s (not measured), then quiet and attack rounds in turn, starting and ending with a quiet one. The target is each attack round's requests/s ≥ 0.9× the mean of the two quiet rounds beside it: those see the same process and, within a minute, the same machine. The cold round is the fastest the process ever is (its hot path has seen one kind of request only); every round also gives its ratio to it. "Service held … in its share" is \`spapi_auth_http_connections\` (active + idle) read from \`/metrics\` mid-round, less autocannon's ${CONNECTIONS} and the read itself; "waiting beside it" is its \`state="held"\`. RSS is sampled from /proc every 250 ms. Machine load when the section started: ${machineLoad} (1-minute average).`,
        `Reading the figures. Requests/s move with whatever else this shared machine runs (compare the quiet rounds), so each round also gives the service's CPU time per token request (its user + system time over the round ÷ the token requests served) and the ratio it implies for a service on a core of its own: that one includes everything the attacker costs the service, and it moves with the machine's load too (a busy machine gives the service shorter slices and colder caches), so neither ratio is exact on a machine as loaded as this one. What holds: no token request failed in any round; the attacker holds at most its share (${share.perAddress.toLocaleString('en-US')} connections of one address, "in its share") and at most twice that beside it, waiting ("held": a connection opened while its address is at its share, or past its admissions, waits for a request, then gives up an idle connection of its own within a budget or is answered \`503\` after 10 s, unread meanwhile), whatever it tried; slow-reading costs what its first connections cost (eight pipelined \`GET /openapi.json\` each, some 800 KB of writes; later ones give up an idle connection at most 10 a second), and idle connections end at the header timeout without turning anything over. What does not: a busy attacker still makes the service accept and end hundreds of connections a second (the ones it admits within its admission budget live until their body's 2 s grace is over, the held ones until their 503), each costing the service of the order shown; a body trickling in at 100 B/s on each of them is thousands of small packets a second, part of whose kernel work is counted to the service. A per-address connection rate in front of the service (a firewall's connection limit, or the load balancer's) is still what bounds how fast one client can open connections.`,
      ],
    };
  },
};
