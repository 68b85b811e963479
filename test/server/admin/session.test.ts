// The admin session: signed cookies that cannot be forged, promoted, replayed past expiry or used
// with another session's CSRF token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminSessions, SESSION_COOKIE, SESSION_TTL_MS } from '../../../src/server/admin/session.js';

const cookieOf = (setCookie: string): string => setCookie.split(';')[0]!;

function sessions(password: string | undefined = 'correct horse', secure = true) {
  const clock = { t: 1_000_000_000_000 };
  return { clock, s: new AdminSessions({ password, secure, now: () => clock.t }) };
}

test('an issued session reads back; a strict, HttpOnly, /admin-scoped cookie; Secure over https', () => {
  const { s } = sessions();
  const { session, cookie } = s.issue(true);
  assert.match(cookie, new RegExp(`^${SESSION_COOKIE}=`));
  assert.match(cookie, /; Path=\/admin; Max-Age=28800; HttpOnly; SameSite=Strict; Secure$/);
  assert.deepEqual(s.read(cookieOf(cookie)), {
    ...session,
    expiresAt: Math.floor(session.expiresAt / 1000) * 1000,
  });
  assert.doesNotMatch(
    new AdminSessions({ password: undefined, secure: false }).issue(false).cookie,
    /Secure/,
  );
  assert.match(s.clear(), /Max-Age=0/);
});

test('a tampered, promoted, truncated or foreign cookie is no session', () => {
  const { s } = sessions();
  const value = cookieOf(s.issue(false).cookie).slice(SESSION_COOKIE.length + 1);
  const parts = value.split('.');
  const promoted = [...parts.slice(0, 3), '1', parts[4]].join('.');
  assert.equal(s.read(`${SESSION_COOKIE}=${promoted}`), undefined, 'anonymous → authenticated');
  assert.equal(s.read(`${SESSION_COOKIE}=${value.slice(0, -2)}`), undefined);
  assert.equal(s.read(`${SESSION_COOKIE}=${'x'.repeat(300)}`), undefined);
  assert.equal(s.read(undefined), undefined);
  const other = sessions('another password').s;
  assert.equal(other.read(`${SESSION_COOKIE}=${value}`), undefined, 'signed with another key');
});

test('a session ends at its expiry', () => {
  const { s, clock } = sessions();
  const { cookie } = s.issue(true);
  clock.t += SESSION_TTL_MS - 1_000;
  assert.ok(s.read(cookieOf(cookie)));
  clock.t += 1_000;
  assert.equal(s.read(cookieOf(cookie)), undefined);
});

test('the CSRF token belongs to one session', () => {
  const { s } = sessions();
  const a = s.issue(true).session;
  const b = s.issue(true).session;
  assert.ok(s.checkCsrf(a, s.csrfToken(a)));
  assert.equal(s.checkCsrf(a, s.csrfToken(b)), false);
  assert.equal(s.checkCsrf(undefined, s.csrfToken(a)), false);
  assert.equal(s.checkCsrf(a, null), false);
  assert.equal(s.checkCsrf(a, 'x'.repeat(200)), false);
});

test('the password check accepts only the password, and nothing without one', () => {
  const { s } = sessions();
  assert.ok(s.passwordRequired);
  assert.ok(s.checkPassword('correct horse'));
  assert.equal(s.checkPassword('correct horse '), false);
  assert.equal(s.checkPassword(''), false);
  const open = new AdminSessions({ password: undefined, secure: false });
  assert.equal(open.passwordRequired, false);
  assert.equal(open.checkPassword(''), false);
});
