// `spapi-auth dev` as a real process in a folder of its own, and the newcomer's clicks on its start
// page over plain HTTP (no browser): "Connect a seller", then Confirm on the emulator's consent page.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cliCommand } from './cli.js';

/** A running `spapi-auth dev`. */
export interface DevProcess {
  readonly child: ChildProcess;
  readonly origin: string;
  /** The dev API key it printed. */
  readonly key: string;
  /** Everything it wrote so far. */
  output(): { stdout: string; stderr: string };
  /** SIGINT, and its exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `spapi-auth dev` in `cwd` on `port`; resolves once it printed its API key and, when
 * `stderrIncludes` is given, that text on stderr (the two pipes' chunks arrive in any order).
 * `command` starts the CLI (default: this repository's build, else its sources).
 */
export async function startDev(
  cwd: string,
  port: number,
  stderrIncludes?: string,
  command: readonly string[] = cliCommand(),
): Promise<DevProcess> {
  // Resolve tsx from the repository: the child runs in another folder.
  const tsx = fileURLToPath(new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url));
  const [cmd, ...prefix] = command.map((a) => (a === 'tsx' ? tsx : a));
  const child = spawn(cmd!, [...prefix, 'dev'], {
    cwd,
    env: { PATH: process.env.PATH, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev did not start: ${out} ${err}`)), 20_000);
    const check = (): void => {
      if (out.includes('Dev API key') && (stderrIncludes === undefined || err.includes(stderrIncludes))) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      check();
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      check();
    });
    void exited.then((code) => reject(new Error(`dev exited ${code}: ${err}`)));
  });
  const key = /spk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/.exec(out)![0];
  return {
    child,
    origin: `http://localhost:${port}`,
    key,
    output: () => ({ stdout: out, stderr: err }),
    stop: () => {
      child.kill('SIGINT');
      return exited;
    },
  };
}

/** Follows redirects by hand, carrying the one cookie the flow sets. */
export function browserLike(): (url: string, init?: RequestInit) => Promise<{ url: string; res: Response }> {
  let cookie = '';
  return async (url, init = {}) => {
    let current = url;
    let req = init;
    for (let i = 0; i < 10; i++) {
      const res = await fetch(current, {
        ...req,
        redirect: 'manual',
        headers: { ...((req.headers as Record<string, string> | undefined) ?? {}), cookie },
      });
      const set = res.headers.getSetCookie()[0];
      if (set) cookie = set.split(';')[0]!;
      const loc = res.headers.get('location');
      if (!loc) return { url: current, res };
      await res.body?.cancel();
      current = new URL(loc, current).href;
      req = {};
    }
    throw new Error('too many redirects');
  };
}

/**
 * The start page's "Connect a seller" (US; `reconnect`: its "Reconnect" button of that stored
 * seller) and Confirm for `sellerChoice` on the consent page; returns the URL the flow ended on
 * (`/oauth/result?status=connected…` when it worked).
 */
export async function connectDevSeller(
  origin: string,
  sellerChoice = 'A1EMUSELLERNA01:na',
  reconnect?: string,
): Promise<string> {
  const go = browserLike();
  const consent = await go(`${origin}/dev/connect`, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: `marketplace=US&kind=seller${reconnect === undefined ? '' : `&selling_partner_id=${reconnect}`}`,
  });
  if (!consent.url.startsWith(`${origin}/apps/authorize/consent?`))
    throw new Error(`no consent page: ${consent.url}`);
  const page = await consent.res.text();
  const consentId = /name="consent_id" value="([^"]+)"/.exec(page)![1]!;
  const done = await go(`${origin}/apps/authorize/consent`, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: `consent_id=${encodeURIComponent(consentId)}&seller=${encodeURIComponent(sellerChoice)}&action=confirm`,
  });
  return done.url;
}
