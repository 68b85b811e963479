// The README's runnable code blocks, run as a user would: each block marked `<!-- runnable: FILE -->`
// is saved as FILE in a fresh folder where `spapi-auth` resolves to this package (built dist/),
// with the environment the README's `export` lines set, against an emulator on a free port. The
// block's `// → …` lines are the output it promises.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startEmulator } from '../../src/emulator/index.js';
import { runnableBlocks } from '../helpers/readme.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

test('README: runnable blocks are found with the environment the README sets before them', () => {
  const blocks = runnableBlocks(readme);
  assert.ok(blocks.length >= 1, 'the library example is marked runnable');
  const example = blocks.find((b) => b.file === 'example.mjs');
  assert.ok(example, 'the library example is example.mjs');
  for (const name of ['LWA_CLIENT_ID', 'LWA_CLIENT_SECRET', 'SPAPI_APPLICATION_ID', 'SPAPI_AUTH_AMAZON_URL'])
    assert.ok(example.env[name], `the README exports ${name} before the example`);
  assert.match(example.code, /from 'spapi-auth'/, 'it imports the package by its name');
});

test('README: every runnable block runs as written against the emulator and prints what it says', async (t) => {
  if (!existsSync(join(root, 'dist/core/index.js'))) {
    if (process.env.CI === 'true') assert.fail('dist/ is missing: run npm run build before this test');
    t.skip('dist/ is missing: run npm run build');
    return;
  }
  for (const block of runnableBlocks(readme)) {
    const dir = mkdtempSync(join(tmpdir(), 'spapi-auth-readme-'));
    // The README's emulator listens on 4010; the test's on a free port, so parallel runs cannot clash.
    const emulator = await startEmulator({ port: 0 });
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(root, join(dir, 'node_modules', 'spapi-auth'), 'dir');
      writeFileSync(join(dir, block.file), block.code);
      const readmeAmazon = block.env['SPAPI_AUTH_AMAZON_URL'];
      const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...block.env };
      if (readmeAmazon !== undefined) {
        assert.equal(readmeAmazon, 'http://127.0.0.1:4010', 'the README points at the emulator it starts');
        env['SPAPI_AUTH_AMAZON_URL'] = emulator.url;
      }
      const { stdout } = await promisify(execFile)(process.execPath, [block.file], {
        cwd: dir,
        env,
        timeout: 30_000,
      });
      const promised = [...block.code.matchAll(/^\/\/ → (.*)$/gm)].map((m) => m[1]!.trim());
      assert.ok(promised.length > 0, `${block.file} says what it prints (a "// → " line)`);
      assert.deepEqual(stdout.trim().split('\n'), promised, `${block.file} prints what the README says`);
      const stats = await emulator.emulator.control.stats();
      assert.equal(stats.token['authorization_code']?.['ok'], 1, 'one code exchange at the emulator');
    } finally {
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
