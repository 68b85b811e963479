// The service's HTTP error codes: one registry (HTTP_ERRORS), documented in docs/errors.md, every
// code answered somewhere, and the status of an HttpError always the registered one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CORE_ERROR_HTTP, HTTP_ERRORS, isHttpErrorCode } from '../../../src/server/http/errors.js';
import { HttpError, errorResponse, httpError } from '../../../src/server/http/request.js';
import { ERROR_CODES } from '../../../src/core/errors.js';

const root = new URL('../../../', import.meta.url);
const doc = readFileSync(new URL('docs/errors.md', root), 'utf8');
const section = doc.slice(doc.indexOf('## HTTP error codes of the service'));
const httpSection = section.slice(
  0,
  section.indexOf('\n## ', 4) === -1 ? undefined : section.indexOf('\n## ', 4),
);
const rows = [...httpSection.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| (.+?) \|$/gm)];

test('docs/errors.md lists exactly the codes of HTTP_ERRORS, each with its status and a meaning', () => {
  assert.ok(rows.length > 0, 'the HTTP section has rows');
  const documented = new Map(rows.map((r) => [r[1]!, { status: Number(r[2]), when: r[3]! }]));
  assert.equal(documented.size, rows.length, 'a code is documented twice');
  assert.deepEqual([...documented.keys()].sort(), Object.keys(HTTP_ERRORS).sort());
  for (const [code, spec] of Object.entries(HTTP_ERRORS)) {
    const d = documented.get(code)!;
    assert.equal(d.status, spec.status, `${code}: status`);
    assert.ok(d.when.length > 15, `${code}: meaning`);
    assert.ok(spec.message.length > 5 && spec.message.endsWith('.'), `${code}: default message`);
  }
});

function sourceFiles(dir: string): string[] {
  return readdirSync(new URL(dir, root), { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => f.endsWith('.ts'));
}

test('every registered code is answered somewhere in the service (no dead entries)', () => {
  const sources = sourceFiles('src/server')
    .filter((f) => !f.endsWith(join('http', 'errors.ts')))
    .map((f) => readFileSync(new URL(f, root), 'utf8'))
    .join('\n');
  // The flows answer the codes of the core's callback and Login URI parsers as they are.
  const passedThrough = new Set(['CallbackError', 'StateError', 'LoginRequestError']);
  for (const code of Object.keys(HTTP_ERRORS)) {
    const core = (ERROR_CODES as Record<string, { errorClass: string } | undefined>)[code];
    if (core !== undefined && passedThrough.has(core.errorClass)) continue;
    // A code the core's errors map to is answered wherever a core error is (tokenApiError, the flows).
    if ((Object.values(CORE_ERROR_HTTP) as string[]).includes(code)) continue;
    assert.ok(sources.includes(`'${code}'`), `${code} is registered but never answered`);
  }
});

test('a core code the browser flows show as it is keeps its name in both lists', () => {
  for (const code of ['state_missing', 'state_invalid', 'invalid_callback', 'authorization_denied']) {
    assert.ok(code in ERROR_CODES && isHttpErrorCode(code), code);
  }
});

test('httpError and errorResponse take the status and the default message from the registry', () => {
  const err = httpError('link_expired');
  assert.ok(err instanceof HttpError);
  assert.equal(err.status, 410);
  assert.equal(err.message, HTTP_ERRORS.link_expired.message);
  const res = errorResponse('seller_not_found');
  assert.equal(res.status, 404);
  assert.deepEqual(JSON.parse(String(res.body)), {
    error: { code: 'seller_not_found', message: HTTP_ERRORS.seller_not_found.message },
  });
  // A message only where the registry allows details (the compiler refuses it elsewhere).
  const specific = httpError('rate_limited', 'Slow down.', { 'retry-after': '3' });
  assert.equal(specific.message, 'Slow down.');
  assert.deepEqual(specific.headers, { 'retry-after': '3' });
  // @ts-expect-error link_expired allows no details
  httpError('link_expired', 'Gone.');
});

/** Every .ts file under src/server and src/storage, with its text. */
function serverSources(): [string, string][] {
  const out: [string, string][] = [];
  const walk = (dir: URL, rel: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(new URL(`${e.name}/`, dir), `${rel}${e.name}/`);
      else if (e.name.endsWith('.ts'))
        out.push([`${rel}${e.name}`, readFileSync(new URL(e.name, dir), 'utf8')]);
    }
  };
  walk(new URL('src/server/', root), 'src/server/');
  walk(new URL('src/storage/', root), 'src/storage/');
  return out;
}

test('no call site passes an HTTP status for a registered code: httpError(code) is the only way', () => {
  const offenders: string[] = [];
  for (const [file, text] of serverSources()) {
    const checks: [RegExp, string][] = [
      [/\bnew HttpError\(/g, 'new HttpError('],
      [
        /\b(?:httpError|errorResponse|flowFailure|NotificationError)\(\s*(?:req,\s*)?(?:\d{3}\b|[a-z.]*status\b)/g,
        'a status',
      ],
      [/\berrorPage\(/g, 'errorPage('],
    ];
    for (const [re, what] of checks) {
      if (file === 'src/server/http/request.ts' && what === 'new HttpError(') continue;
      if (file === 'src/server/http/html.ts' && what === 'errorPage(') continue;
      for (const m of text.matchAll(re)) {
        const line = text.slice(0, m.index).split('\n').length;
        offenders.push(`${file}:${line} ${what}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});
