// The container image of the repository's Dockerfile, built and run by the tests with the machine's
// Docker daemon. The Dockerfile starts FROM node:20-bookworm-slim; where Docker Hub is out of reach
// (as on the CI machines, which reach only the npm registry and Debian's packages), it is built FROM
// a stand-in made here: Debian bookworm (debootstrap, minbase) with this machine's own Node.js 20
// and npm, its CA bundle (the npm registry is reached through the machine's TLS proxy) and a `node`
// user of uid 1000, as in the official image. Every step after FROM is the Dockerfile's own.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, rmSync, appendFileSync, chownSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The stand-in base image's tag. */
export const STAND_IN_NODE_IMAGE = 'spapi-auth-test/node:20';

/** Why containers cannot be built here (a message for a skip), or null when the daemon answers. */
export function dockerMissing(): string | null {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8' });
  if (info.error) return 'docker is not installed (apt-get install docker.io)';
  if (info.status !== 0) return 'the Docker daemon is not running (start dockerd)';
  return null;
}

/** Runs the docker CLI; resolves to its stdout, throws on a non-zero exit (stderr in the error). */
export const docker = (args: string[], opts: { input?: Buffer; timeoutMs?: number } = {}): string =>
  execFileSync('docker', args, {
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
    timeout: opts.timeoutMs ?? 600_000,
    ...(opts.input ? { input: opts.input } : {}),
  });

const imageExists = (tag: string): boolean =>
  spawnSync('docker', ['image', 'inspect', tag], { stdio: 'ignore' }).status === 0;

/**
 * The base image to build FROM: `node:20-bookworm-slim` when it can be pulled, else the stand-in
 * (made once per machine, about a minute: debootstrap then `docker import`).
 */
export function baseNodeImage(log: (line: string) => void): string {
  if (imageExists('node:20-bookworm-slim')) return 'node:20-bookworm-slim';
  if (
    spawnSync('docker', ['pull', '-q', 'node:20-bookworm-slim'], { stdio: 'ignore', timeout: 60_000 })
      .status === 0
  )
    return 'node:20-bookworm-slim';
  if (imageExists(STAND_IN_NODE_IMAGE)) return STAND_IN_NODE_IMAGE;
  log(
    `making ${STAND_IN_NODE_IMAGE} (Docker Hub unreachable): debootstrap bookworm + this machine's Node.js`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'spapi-auth-rootfs-'));
  const root = join(dir, 'rootfs');
  try {
    execFileSync(
      'debootstrap',
      ['--variant=minbase', '--include=ca-certificates', 'bookworm', root, 'http://deb.debian.org/debian'],
      { stdio: 'ignore', timeout: 600_000 },
    );
    const npmDir = join(dirname(dirname(process.execPath)), 'lib/node_modules/npm');
    if (!existsSync(npmDir)) throw new Error(`npm not found at ${npmDir}`);
    cpSync(process.execPath, join(root, 'usr/bin/node'));
    mkdirSync(join(root, 'usr/lib/node_modules'), { recursive: true });
    cpSync(npmDir, join(root, 'usr/lib/node_modules/npm'), { recursive: true });
    execFileSync('ln', ['-sf', '../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/bin/npm')]);
    cpSync('/etc/ssl/certs/ca-certificates.crt', join(root, 'etc/ssl/certs/ca-certificates.crt'));
    appendFileSync(join(root, 'etc/passwd'), 'node:x:1000:1000::/home/node:/bin/sh\n');
    appendFileSync(join(root, 'etc/group'), 'node:x:1000:\n');
    mkdirSync(join(root, 'home/node'), { recursive: true });
    chownSync(join(root, 'home/node'), 1000, 1000);
    rmSync(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
    rmSync(join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
    const tar = execFileSync('tar', ['-C', root, '-c', '.'], { maxBuffer: 1024 * 1024 * 1024 });
    docker(
      [
        'import',
        '--change',
        'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
        '--change',
        'ENV PATH=/usr/local/bin:/usr/bin:/bin',
        '-',
        STAND_IN_NODE_IMAGE,
      ],
      { input: tar },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return STAND_IN_NODE_IMAGE;
}

/** Builds the repository's Dockerfile as `tag` FROM `base`; returns the build's output. */
export function buildImage(repoRoot: string, tag: string, base: string): string {
  return docker(['build', '--build-arg', `NODE_IMAGE=${base}`, '-t', tag, repoRoot]);
}

/** A container's output so far, stdout and stderr together. */
export function containerLogs(name: string): string {
  const r = spawnSync('docker', ['logs', name], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return `${r.stdout}${r.stderr}`;
}
