// The flows' pages: the dashboard's one stylesheet under the page's CSP nonce, escaping, and the
// success / failure colouring the newcomer sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorPage, html, page, sitePage } from '../../../src/server/http/html.js';
import { STYLESHEET } from '../../../src/server/http/style.js';
import { adminPage } from '../../../src/server/admin/layout.js';

const HOSTILE = '<img src=x onerror=alert(1)>';

function styleOf(body: string, csp: string): string {
  const nonce = /style-src 'nonce-([^']+)'/.exec(csp)?.[1];
  assert.ok(nonce, 'the CSP names a style nonce');
  const m = new RegExp(`<style nonce="${nonce.replace(/[+/=]/g, '\\$&')}">([\\s\\S]*?)</style>`).exec(body);
  assert.ok(m, 'the one <style> carries the CSP nonce');
  return m[1]!.trim();
}

test('errorPage: escaped message and code in a failure card, the shared stylesheet under the nonce, strict headers', () => {
  const res = errorPage(400, `code_${HOSTILE}`, `message ${HOSTILE}`, { 'x-extra': 'kept' });
  const body = String(res.body);
  const headers = res.headers as Record<string, string>;
  assert.equal(res.status, 400);
  assert.equal(headers['x-extra'], 'kept');
  assert.match(headers['content-security-policy']!, /default-src 'none'/);
  assert.doesNotMatch(headers['content-security-policy']!, /script-src/);
  assert.equal(styleOf(body, headers['content-security-policy']!), STYLESHEET.trim());
  assert.ok(!body.includes(HOSTILE), 'no hostile markup comes through');
  assert.ok(body.includes('message &#60;img src=x onerror=alert(1)&#62;'));
  assert.match(body, /<section class="card flow bad">\s*<h1>Authorization not completed<\/h1>/);
  assert.match(body, /<p class="err">message /);
});

test('page: a success card headed by the title; sitePage puts nav in the top bar; admin pages use the same stylesheet', () => {
  const ok = page(200, 'Seller connected', html`<p class="ok">${HOSTILE} is connected.</p>`);
  const okBody = String(ok.body);
  assert.match(okBody, /<main class="narrow"><section class="card flow">\s*<h1>Seller connected<\/h1>/);
  assert.ok(!okBody.includes(HOSTILE));
  assert.match(okBody, /<title>Seller connected · spapi-auth<\/title>/);
  // The success colour comes from the stylesheet's rule for a flow card holding p.ok.
  assert.ok(STYLESHEET.includes('.flow p.ok{color:var(--ok);background:var(--ok-bg)}'));

  const start = sitePage({ title: 'Start', body: html`<h1>Hi</h1>`, nav: html`<a href="/admin">Admin</a>` });
  assert.match(String(start.body), /<nav><a href="\/admin">Admin<\/a><\/nav>/);
  assert.equal(start.status, 200);

  const admin = adminPage({
    title: 'Sellers',
    section: 'sellers',
    body: html`<h1>x</h1>`,
    base: '',
    secure: false,
    showNav: true,
  });
  const adminHeaders = admin.headers as Record<string, string>;
  assert.equal(styleOf(String(admin.body), adminHeaders['content-security-policy']!), STYLESHEET.trim());
});
