// docs/deployment.md §8 run as a person pastes it: every block marked `<!-- runnable: recipe-… -->`,
// read from the page, in order, as root in bash on a fresh Debian 12 root filesystem (debootstrap
// bookworm, minbase; run as a Docker container of its own, so it has its own network namespace —
// the host's PostgreSQL on 127.0.0.1:5432 is not reachable from it — with Docker's NAT for apt and
// npm). What the test adds between the page's blocks, and nothing else:
//   - the package's tarball at /root (`npm pack` of this tree), as the page says to copy it;
//   - the emulator as Amazon: `spapi-auth emulator` of the installed package on 127.0.0.1:4010,
//     and SPAPI_AUTH_AMAZON_URL plus the emulator app's ids in place of the page's placeholders;
//   - a self-signed certificate for auth.example.com at the paths certbot writes, instead of the
//     certbot block (no public DNS here), trusted by the root filesystem; auth.example.com is
//     127.0.0.1 in its /etc/hosts;
//   - systemd does not run in a container: test/e2e/recipe/systemctl.sh stands in for systemctl
//     (it starts each unit's ExecStart with its User=, EnvironmentFile=, Environment= and
//     LoadCredential= lines, and the packages' init scripts for nginx and PostgreSQL);
//   - the answers to the page's two prompts (the LWA client secret, the key ring on restore), and
//     the import file (a grant made at the emulator, test/e2e/recipe/grant.mjs);
//   - this machine's CA certificates in the root filesystem and NODE_EXTRA_CA_CERTS for npm: the
//     npm registry is reached through a TLS proxy here.
// Then: a seller connected through nginx over https (the website flow, with curl as the browser)
// is served by both instances, `doctor` passes with the units' configuration (spapi-auth-admin),
// and the restore drill (wipe the instances, the database and the key ring; restore from the
// dump and the ring kept apart) serves every seller again. No marker secret in any output.
// Cached between runs under /var/cache/spapi-auth-test: the debootstrap result, apt's archives,
// npm's cache, and the root filesystem as a Docker image. RECIPE_VERBOSE=1 prints each block's output.
// test-phase: host-network (Docker adds and removes interfaces: see scripts/run-tests.mjs)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createCanary } from '../helpers/canary.js';
import { repoRoot } from '../helpers/cli.js';
import { docker, dockerMissing, freshHostImage, ROOTFS_CACHE } from '../helpers/container.js';
import { markerSecrets, suiteRuns } from '../helpers/e2e.js';
import { substitute } from '../helpers/nginx.js';
import { distProblem, pack } from '../helpers/pack.js';
import { runnableBlocks, type RunnableBlock } from '../helpers/readme.js';

const PAGE = 'docs/deployment.md';
const HOST = 'auth.example.com';
const EMULATOR = 'http://127.0.0.1:4010';
const CONNECTED = 'A1EMUSELLERNA01';
const IMPORTED = 'A1EMUSELLEREU01';
const LONG = { timeout: 30 * 60_000 };
const fixture = (file: string): string => join(repoRoot, 'test/e2e/recipe', file);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Why the recipe cannot run here, or null. */
function recipeMissing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (debootstrap, the Docker daemon)';
  if (!existsSync('/usr/sbin/debootstrap')) return 'debootstrap is missing (apt-get install debootstrap)';
  return dockerMissing() ?? distProblem() ?? null;
}

const SUITE = 'docs/deployment.md §8 as written, on a fresh Debian 12 root filesystem';
if (
  await suiteRuns(recipeMissing(), {
    suite: SUITE,
    what: 'the deployment recipe on a fresh root filesystem',
    placeholder: 'runs the recipe blocks of docs/deployment.md',
    needs: 'root, debootstrap and the Docker daemon',
  })
) {
  describe(SUITE, () => {
    const secrets = markerSecrets('Recipe');
    const canary = createCanary();
    canary.add('LWA client secret', secrets.clientSecret);
    const app = {
      id: 'amzn1.sp.solution.5e1f0c2a-7b3d-4c8e-9a61-2d4f8b0e3c7a',
      client_id: 'amzn1.application-oa2-client.3f9a1c7e5b2d4e6f8a0c1e3b5d7f9a2c',
      client_secret: secrets.clientSecret,
      redirect_uris: [`https://${HOST}/oauth/callback`],
    };
    const name = `spapi-auth-recipe-${process.pid}`;
    const blocks = runnableBlocks(readFileSync(join(repoRoot, PAGE), 'utf8')).filter((b) =>
      b.file.startsWith('recipe-'),
    );
    /** Everything the page's blocks printed, by block. */
    const outputs: Record<string, string> = {};
    let next = 0;
    let apiKey = '';
    let ring = '';
    const started = Date.now();
    const phases: string[] = [];
    const phase = (what: string): void => {
      phases.push(`${what} ${Math.round((Date.now() - started) / 1000)} s`);
    };

    /** Runs a script as root in bash in the root filesystem (the page's blocks: with -e). */
    const sh = (script: string, input = ''): Ran => {
      const r = spawnSync(
        'docker',
        [
          'exec',
          '-i',
          '-w',
          '/root',
          '-e',
          'NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
          name,
          'bash',
          '-e',
          '-o',
          'pipefail',
          '-c',
          script,
        ],
        { input, encoding: 'utf8', timeout: 20 * 60_000, maxBuffer: 64 * 1024 * 1024 },
      );
      return { code: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    };
    const shOk = (script: string, input = ''): string => {
      const r = sh(script, input);
      assert.equal(r.code, 0, `${script.split('\n')[0]}…\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    };

    /** What the test does around the page's blocks (see the header): by block. */
    const harness: Record<
      string,
      {
        swaps?: (readonly [string | RegExp, string])[];
        replace?: string;
        input?: () => string;
        after?: (ran: Ran) => void;
      }
    > = {
      'recipe-03-package.sh': {
        after: () => {
          docker(['cp', fixture('grant.mjs'), `${name}:/root/grant.mjs`]);
          shOk(
            `cat > /root/emulator.json
setsid spapi-auth emulator --port 4010 --config /root/emulator.json >/var/log/spapi-auth-emulator.log 2>&1 </dev/null &
curl -fsS --retry 30 --retry-delay 1 --retry-all-errors ${EMULATOR}/__emulator/ >/dev/null`,
            JSON.stringify(app),
          );
        },
      },
      'recipe-05-secrets.sh': { input: () => `${secrets.clientSecret}\n` },
      'recipe-06-env.sh': {
        swaps: [
          ['LWA_CLIENT_ID=amzn1.application-oa2-client.…', `LWA_CLIENT_ID=${app.client_id}`],
          ['SPAPI_APPLICATION_ID=amzn1.sp.solution.…', `SPAPI_APPLICATION_ID=${app.id}`],
          ['\nHOST=127.0.0.1\n', `\nHOST=127.0.0.1\nSPAPI_AUTH_AMAZON_URL=${EMULATOR}\n`],
        ],
      },
      'recipe-09-certificate.sh': {
        replace: `d=/etc/letsencrypt/live/${HOST}
mkdir -p "$d"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=${HOST} -addext subjectAltName=DNS:${HOST} \\
  -keyout "$d/privkey.pem" -out "$d/fullchain.pem" 2>/dev/null
cp "$d/fullchain.pem" /usr/local/share/ca-certificates/spapi-auth-recipe-test.crt
update-ca-certificates >/dev/null 2>&1`,
      },
      'recipe-11-sellers.sh': {
        after: (ran) => {
          const key = /^spk_\S+$/m.exec(ran.stdout);
          assert.ok(key, `keys create printed the key:\n${ran.stdout}`);
          apiKey = key[0];
        },
      },
      'recipe-12-backup.sh': {
        after: () => {
          // The operator moves the ring to the secret store: the test holds it, the host does not.
          ring = shOk('cat /root/spapi-auth-key-ring && rm /root/spapi-auth-key-ring').trim();
          canary.add('key ring', ring);
        },
      },
      'recipe-14-drill-restore.sh': { input: () => `${ring}\n` },
    };

    /** Runs the page's blocks in order up to and including `last`, with the test's steps around them. */
    const runThrough = (last: string): void => {
      assert.ok(
        blocks.some((b) => b.file === last),
        `${PAGE} has a block marked runnable: ${last}`,
      );
      for (; next < blocks.length; next++) {
        const block: RunnableBlock = blocks[next]!;
        const h = harness[block.file] ?? {};
        const code = h.replace ?? substitute(block.code, h.swaps ?? []);
        if (block.file === 'recipe-11-sellers.sh') {
          shOk(`node /root/grant.mjs ${EMULATOR} /root/emulator.json ${IMPORTED} eu > /root/sellers.jsonl`);
        }
        const ran = sh(code, h.input?.() ?? '');
        outputs[block.file] = `${ran.stdout}\n${ran.stderr}`;
        if (process.env.RECIPE_VERBOSE === '1') console.log(`# ${block.file}\n${ran.stdout}${ran.stderr}`);
        phase(block.file);
        assert.equal(ran.code, 0, `${block.file} failed (exit ${ran.code}):\n${ran.stdout}\n${ran.stderr}`);
        h.after?.(ran);
        if (block.file === last) {
          next++;
          return;
        }
      }
    };

    /** The status of a seller's access-token request through nginx over https, and the headers. */
    const tokenThroughNginx = (seller: string): { status: number; headers: string } => {
      const out = shOk(
        `read -r key
curl -sS -D /tmp/headers -o /dev/null -w '%{http_code}' -H "authorization: Bearer $key" https://${HOST}/v1/sellers/${seller}/access-token || true
echo; cat /tmp/headers 2>/dev/null || true`,
        `${apiKey}\n`,
      );
      const [status, ...headers] = out.split('\n');
      return { status: Number(status), headers: headers.join('\n') };
    };

    /** Requests each instance logged so far. */
    const requestsSeen = (): number[] =>
      shOk(`for p in 3001 3002; do grep -c '"msg":"request"' /var/log/spapi-auth@$p.log || true; done`)
        .trim()
        .split('\n')
        .map(Number);

    before(async () => {
      for (const hooked of Object.keys(harness))
        assert.ok(
          blocks.some((b) => b.file === hooked),
          `${PAGE} has a block marked runnable: ${hooked}`,
        );
      const image = freshHostImage((line) => console.log(`# ${line}`));
      phase('image');
      const { dir, tarball } = pack();
      for (const cache of ['apt', 'npm']) mkdirSync(join(ROOTFS_CACHE, cache), { recursive: true });
      docker([
        'run',
        '-d',
        '--init',
        '--name',
        name,
        '--hostname',
        'spapi-auth-host',
        '--add-host',
        `${HOST}:127.0.0.1`,
        '-v',
        `${join(ROOTFS_CACHE, 'apt')}:/var/cache/apt/archives`,
        '-v',
        `${join(ROOTFS_CACHE, 'npm')}:/root/.npm`,
        image,
        'sleep',
        'infinity',
      ]);
      docker(['cp', tarball, `${name}:/root/spapi-auth-0.1.0.tgz`]);
      rmSync(dir, { recursive: true, force: true });
      docker(['cp', fixture('systemctl.sh'), `${name}:/usr/local/bin/systemctl`]);
    }, LONG);

    after(() => {
      spawnSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
      console.log(`# recipe wall time: ${phases.join(', ')}`);
    });

    it('two instances behind nginx over https serve a seller connected through them', LONG, () => {
      runThrough('recipe-11-sellers.sh');
      const before = requestsSeen();
      // The website flow with curl as the browser: a connect link from the token API, the consent
      // at the emulator (auto mode for the seller), the callback and the result page.
      const finalUrl = shOk(
        `read -r key
curl -fsS -X POST ${EMULATOR}/__emulator/consent -H 'content-type: application/json' \\
  -d '{"mode":"auto","selling_partner_id":"${CONNECTED}"}' >/dev/null
url=$(curl -fsS https://${HOST}/v1/connect-sessions -H "authorization: Bearer $key" \\
  -H 'content-type: application/json' -d '{"user_ref":"recipe-user","marketplace":"US"}' |
  node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).url')
curl -fsS -L --max-redirs 10 -c /tmp/jar -b /tmp/jar -o /dev/null -w '%{url_effective}' "$url"`,
        `${apiKey}\n`,
      );
      assert.match(
        finalUrl,
        new RegExp(`^https://${HOST}/oauth/result\\?status=connected&selling_partner_id=${CONNECTED}&`),
      );
      for (const seller of [CONNECTED, IMPORTED]) {
        const token = tokenThroughNginx(seller);
        assert.equal(token.status, 200, `${seller}: ${token.headers}`);
        assert.match(token.headers, /strict-transport-security: max-age=63072000; includeSubDomains/i);
      }
      const served = requestsSeen().map((n, i) => n - before[i]!);
      assert.ok(
        served.every((n) => n > 0),
        `each instance served part of it (${served.join(' and ')} requests)`,
      );
    });

    it(
      "doctor passes with the units' configuration (spapi-auth-admin), every secret from its file",
      LONG,
      () => {
        const report = JSON.parse(shOk('spapi-auth-admin doctor --json')) as {
          ok: boolean;
          checks: { check: string; verdict: string }[];
          configuration: { variable: string; source: string }[];
        };
        assert.equal(report.ok, true, JSON.stringify(report.checks));
        for (const check of ['configuration', 'store', 'key ring', 'lwa'])
          assert.equal(report.checks.find((c) => c.check === check)?.verdict, 'ok', check);
        const fromFiles = report.configuration
          .filter((c) => c.source === 'file')
          .map((c) => c.variable)
          .sort();
        // The same five the unit loads as credentials (and the service, started by the stand-in, got;
        // its environment is readable by its own user only, here).
        const unitFiles = shOk(
          `setpriv --reuid=spapi-auth --regid=spapi-auth --init-groups cat /proc/$(cat /run/spapi-auth@3001.pid)/environ |
  tr '\\0' '\\n' | grep -o '^[A-Z_]*_FILE' | sort`,
        )
          .trim()
          .split('\n');
        assert.deepEqual(fromFiles, unitFiles);
        assert.equal(fromFiles.length, 5, fromFiles.join(' '));
      },
    );

    it(
      'the restore drill: a host that lost its instances, database and key ring serves every seller again',
      LONG,
      () => {
        runThrough('recipe-13-drill-wipe.sh');
        assert.notEqual(tokenThroughNginx(CONNECTED).status, 200, 'nothing is served after the wipe');
        assert.doesNotMatch(
          shOk('cd /tmp && runuser -u postgres -- psql -Atc "select datname from pg_database"'),
          /^spapi_auth$/m,
        );
        runThrough(blocks.at(-1)!.file);
        for (const seller of [CONNECTED, IMPORTED])
          assert.equal(tokenThroughNginx(seller).status, 200, `${seller} is served after the restore`);
        const listed = JSON.parse(shOk('spapi-auth-admin sellers list --json')) as {
          items: { selling_partner_id: string; status: string }[];
        };
        assert.deepEqual(
          listed.items.map((s) => `${s.selling_partner_id} ${s.status}`).sort(),
          [`${CONNECTED} active`, `${IMPORTED} active`].sort(),
        );
      },
    );

    it("no marker secret in anything the recipe printed, in the units' logs or in nginx's", () => {
      assert.ok(Object.keys(outputs).length >= blocks.length, 'every block ran');
      const logs: Record<string, string> = {};
      for (const log of [
        '/var/log/spapi-auth@3001.log',
        '/var/log/spapi-auth@3002.log',
        '/var/log/nginx/access.log',
        '/var/log/nginx/error.log',
      ])
        logs[log] = shOk(`cat ${log}`);
      assert.match(logs['/var/log/spapi-auth@3001.log']!, /"msg":"request"/);
      canary.assertClean({ ...outputs, ...logs });
    });
  });
}
