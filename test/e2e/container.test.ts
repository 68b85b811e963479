// The container image (the repository's Dockerfile) built and run with the machine's Docker daemon:
// `serve` on PostgreSQL as the unprivileged `node` user, secrets from files (`_FILE`), ready on
// /readyz, healthy by its HEALTHCHECK, a seller's token served through it, and `docker stop`
// (SIGTERM to node as PID 1) a clean exit 0 — with no marker secret in the container's output.
// The container shares the host's network so it reaches the test PostgreSQL and the emulator on
// 127.0.0.1, and listens on 127.0.0.1 only (HOST; the image's default is 0.0.0.0).
// test-phase: host-network (Docker adds and removes interfaces: see scripts/run-tests.mjs)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { Store } from '../../src/storage/store.js';
import { addRunSecrets, createCanary } from '../helpers/canary.js';
import { repoRoot } from '../helpers/cli.js';
import { baseNodeImage, buildImage, containerLogs, docker, dockerMissing } from '../helpers/container.js';
import {
  createKey,
  freePort,
  freshDatabase,
  markerSecrets,
  openTestStore,
  postgresSuiteRuns,
  seedSellers,
  serveEnv,
  startTestEmulator,
  suiteRuns,
} from '../helpers/e2e.js';

const TAG = 'spapi-auth:e2e';
const SELLER = 'A1EMUSELLERNA01';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 250 ms until it is true or `ms` have passed; resolves to the last answer. */
async function waitFor(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await sleep(250);
  }
}

const SUITE = 'the container image: serve on PostgreSQL, secrets from files, healthy, stops cleanly';
if (
  (await suiteRuns(dockerMissing(), {
    suite: SUITE,
    what: 'the container image',
    placeholder: 'builds and runs the image',
    needs: 'the Docker daemon',
  })) &&
  (await postgresSuiteRuns(SUITE, 'the container image', 'the image on PostgreSQL'))
) {
  describe(SUITE, () => {
    const secrets = markerSecrets('Container');
    const canary = createCanary();
    const name = `spapi-auth-e2e-${process.pid}`;
    let dir: string;
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    let amazon: RunningEmulator;
    let store: Store;
    let url: string;
    let apiKey: string;

    before(async () => {
      const base = baseNodeImage((line) => console.log(line));
      buildImage(repoRoot, TAG, base);
      dir = mkdtempSync(join(tmpdir(), 'spapi-auth-container-'));
      chmodSync(dir, 0o755);
      db = await freshDatabase('container');
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      const started = await startTestEmulator(url, secrets.clientSecret, {});
      amazon = started.amazon;
      store = await openTestStore(db.url, secrets.encryptionKeys);
      const seeded = await seedSellers(amazon, started.app, secrets.clientSecret, store, [SELLER]);
      apiKey = await createKey(store, ['tokens:read']);
      addRunSecrets(canary, { ...secrets, apiKey, seeded });

      // Secrets as files mounted into the container (the orchestrator's way), the rest as variables.
      const env = serveEnv({ app: started.app, secrets, amazon, databaseUrl: db.url, publicUrl: url, port });
      const files: Record<string, string> = {
        LWA_CLIENT_SECRET: env.LWA_CLIENT_SECRET!,
        SPAPI_AUTH_ENCRYPTION_KEYS: env.SPAPI_AUTH_ENCRYPTION_KEYS!,
        DATABASE_URL: env.DATABASE_URL!,
      };
      const args = ['run', '-d', '--name', name, '--network', 'host', '-v', `${dir}:/run/secrets:ro`];
      for (const [k, v] of Object.entries(files)) {
        const file = join(dir, k.toLowerCase());
        writeFileSync(file, v);
        chmodSync(file, 0o644); // the container runs as uid 1000
        args.push('-e', `${k}_FILE=/run/secrets/${k.toLowerCase()}`);
        delete env[k];
      }
      for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`);
      docker([...args, TAG, 'serve']);
    });

    after(async () => {
      spawnRemove(name);
      await store?.close();
      await amazon?.close();
      await db?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('runs as the node user, becomes ready and healthy, and serves a token', async () => {
      const ready = await waitFor(async () => {
        try {
          return (await fetch(`${url}/readyz`)).status === 200;
        } catch {
          return false;
        }
      }, 60_000);
      assert.ok(ready, `not ready in 60 s:\n${containerLogs(name)}`);
      assert.equal(docker(['exec', name, 'id', '-u']).trim(), '1000', 'runs unprivileged');

      const res = await fetch(`${url}/v1/sellers/${SELLER}/access-token`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      const body = (await res.json()) as { access_token?: string };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.match(body.access_token ?? '', /^Atza\|/);

      // The image's HEALTHCHECK (every 10 s) turns the container healthy.
      const healthy = await waitFor(
        () => docker(['inspect', '--format', '{{.State.Health.Status}}', name]).trim() === 'healthy',
        45_000,
      );
      assert.ok(healthy, 'the HEALTHCHECK never passed');
    });

    it('docker stop: SIGTERM to node as PID 1, a clean exit 0; no marker secret in the output', () => {
      docker(['stop', '-t', '20', name]);
      const state = docker(['inspect', '--format', '{{.State.ExitCode}} {{.State.OOMKilled}}', name]).trim();
      assert.equal(state, '0 false');
      const logs = containerLogs(name);
      assert.match(logs, /listening/);
      canary.assertClean({ 'container output': logs });
    });
  });
}

function spawnRemove(container: string): void {
  try {
    docker(['rm', '-f', container]);
  } catch {
    // already gone
  }
}
