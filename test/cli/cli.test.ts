// The `spapi-auth` frame as a user meets it: --help on every command, --version, unknown commands
// and flags, and exit codes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { repoRoot, runCli } from '../helpers/cli.js';

const COMMANDS = [
  'dev',
  'serve',
  'emulator',
  'migrate',
  'keys',
  'sellers',
  'token',
  'url',
  'encryption-key',
  'secret',
  'doctor',
];

describe('spapi-auth', () => {
  it('lists every command in --help and prints the package version with --version', async () => {
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    for (const c of COMMANDS) assert.match(help.stdout, new RegExp(`^  ${c}\\s+\\S`, 'm'), c);
    const none = await runCli([]);
    assert.equal(none.code, 2, 'no command is a usage error');
    const version = await runCli(['--version']);
    assert.equal(version.code, 0);
    const pkg = JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8')) as { version: string };
    assert.equal(version.stdout, `${pkg.version}\n`);
  });

  it('answers --help on every command with its usage, and changes nothing', async () => {
    const results = await Promise.all(COMMANDS.map((c) => runCli([c, '--help'])));
    results.forEach((r, i) => {
      assert.equal(r.code, 0, COMMANDS[i]);
      assert.match(r.stdout, new RegExp(`^Usage: spapi-auth ${COMMANDS[i]}`), COMMANDS[i]);
      assert.equal(r.stderr, '');
    });
    const sub = await runCli(['sellers', 'delete', 'A1', '--help']);
    assert.equal(sub.code, 0, 'help wins over the rest of the line');
    assert.match(sub.stdout, /^Usage: spapi-auth sellers/);
  });

  it('refuses an unknown command and an unknown flag with one line and exit code 2', async () => {
    const unknown = await runCli(['selers', 'list']);
    assert.equal(unknown.code, 2);
    assert.equal(
      unknown.stderr,
      "spapi-auth: unknown command 'selers' (did you mean 'sellers'?) (see spapi-auth --help)\n",
    );
    for (const args of [
      ['token', 'A1', '--regoin', 'na'],
      ['url', '--market', 'DE'],
      ['doctor', '-x'],
      ['encryption-key', 'generate', '--kid'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`^spapi-auth ${args[0]}: .*\\(see spapi-auth ${args[0]} --help\\)\\n$`),
      );
    }
  });
});
