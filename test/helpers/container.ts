// The container image of the repository's Dockerfile, built and run by the tests with the machine's
// Docker daemon. The Dockerfile starts FROM node:20-bookworm-slim; where Docker Hub is out of reach
// (as on the CI machines, which reach only the npm registry and Debian's packages), it is built FROM
// a stand-in made here: Debian bookworm (debootstrap, minbase) with this machine's own Node.js 20
// and npm, its CA bundle (the npm registry is reached through the machine's TLS proxy) and a `node`
// user of uid 1000, as in the official image. Every step after FROM is the Dockerfile's own.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
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
  mkdirSync(root);
  try {
    bookwormRootfs(root, log);
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

/** Where the tests keep what they download for root filesystems, between runs. */
export const ROOTFS_CACHE = '/var/cache/spapi-auth-test';

/**
 * Fills the empty directory `root` with Debian bookworm (debootstrap, minbase, with
 * ca-certificates): unpacked from `${ROOTFS_CACHE}/bookworm-minbase.tar` when an earlier run
 * left it there, else made by debootstrap from deb.debian.org (two to three minutes) and saved
 * there for the next run.
 */
export function bookwormRootfs(root: string, log: (line: string) => void): void {
  const cached = join(ROOTFS_CACHE, 'bookworm-minbase.tar');
  if (existsSync(cached)) {
    execFileSync('tar', ['-C', root, '-xf', cached], { stdio: 'ignore' });
    return;
  }
  log(`debootstrap bookworm (minbase) into ${root}; kept in ${cached} for the next run`);
  execFileSync(
    'debootstrap',
    ['--variant=minbase', '--include=ca-certificates', 'bookworm', root, 'http://deb.debian.org/debian'],
    { stdio: 'ignore', timeout: 600_000 },
  );
  rmSync(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
  mkdirSync(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
  rmSync(join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
  mkdirSync(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
  mkdirSync(ROOTFS_CACHE, { recursive: true });
  const partial = `${cached}.${process.pid}.tmp`; // two tests may make it at once
  execFileSync('tar', ['-C', root, '-cf', partial, '.']);
  renameSync(partial, cached);
}

/** The recipe test's fresh host (test/e2e/recipe.test.ts). */
export const FRESH_HOST_IMAGE = 'spapi-auth-test/bookworm-host:2';

/**
 * Debian bookworm as a fresh host has it (minbase: no Node.js, no nginx, no PostgreSQL), as a Docker
 * image, made once per machine from the cached root filesystem. This machine's own CA certificates
 * (/usr/local/share/ca-certificates) are installed in it as any host behind its TLS proxy needs
 * them, and dpkg skips its fsync calls (`force-unsafe-io`, as Docker's own Debian images do: a
 * throw-away container needs no crash safety, and the installs take half the time); `apt-get
 * update` has not run.
 */
export function freshHostImage(log: (line: string) => void): string {
  if (imageExists(FRESH_HOST_IMAGE)) return FRESH_HOST_IMAGE;
  log(`making ${FRESH_HOST_IMAGE}: bookworm minbase with this machine's CA certificates`);
  const dir = mkdtempSync(join(tmpdir(), 'spapi-auth-rootfs-'));
  const root = join(dir, 'rootfs');
  mkdirSync(root);
  try {
    bookwormRootfs(root, log);
    const local = '/usr/local/share/ca-certificates';
    if (existsSync(local)) cpSync(local, join(root, local), { recursive: true });
    execFileSync('chroot', [root, 'update-ca-certificates'], { stdio: 'ignore' });
    writeFileSync(join(root, 'etc/dpkg/dpkg.cfg.d/spapi-auth-test-unsafe-io'), 'force-unsafe-io\n');
    const tar = execFileSync('tar', ['-C', root, '-c', '.'], { maxBuffer: 1024 * 1024 * 1024 });
    docker(['import', '-', FRESH_HOST_IMAGE], { input: tar });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return FRESH_HOST_IMAGE;
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
