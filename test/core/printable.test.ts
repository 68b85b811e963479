// The one printable-ASCII rule (core/printable.ts) and the bounds built on it: client secrets
// (core/lwa.ts) and page cursors (storage/store/sellers.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPrintableAscii, isVisibleAscii, printableOnly } from '../../src/core/printable.js';
import { CLIENT_SECRET_MAX_LENGTH, isClientSecretShape } from '../../src/core/lwa.js';
import { PAGE_CURSOR_MAX_LENGTH, isPageCursorShape } from '../../src/storage/store/sellers.js';

test('visible ASCII: ! to ~, within the bounds; printable ASCII adds the space', () => {
  assert.ok(isVisibleAscii('Atzr|IwEB!~', 20));
  for (const bad of ['', 'a b', 'tab\t', 'caf\u00e9', 'x\u007f', 'nl\n', 'x'.repeat(21), 42, null])
    assert.ok(!isVisibleAscii(bad, 20), JSON.stringify(bad));
  assert.ok(isVisibleAscii('', 20, 0));
  assert.ok(!isVisibleAscii('short', 20, 16));
  assert.ok(isPrintableAscii('Shop EU ~', 20));
  for (const bad of ['', 'caf\u00e9', 'a\tb', 'x'.repeat(21), undefined])
    assert.ok(!isPrintableAscii(bad, 20), JSON.stringify(bad));
  assert.ok(isPrintableAscii('', 20, 0));
});

test('printableOnly replaces what is outside printable (or visible) ASCII', () => {
  assert.equal(printableOnly('caf\u00e9\n\u001b[2J ok'), 'caf???[2J ok');
  assert.equal(printableOnly('a b\u00e9', ' '), 'a b ');
  assert.equal(printableOnly('a b\u00e9', '?', true), 'a?b?');
});

test('a client secret and a page cursor: 1 to their bound of visible ASCII', () => {
  assert.equal(CLIENT_SECRET_MAX_LENGTH, 512);
  assert.ok(isClientSecretShape('amzn1.oa2-cs.v1.' + 'a'.repeat(64)));
  assert.ok(isClientSecretShape('s'.repeat(CLIENT_SECRET_MAX_LENGTH)));
  for (const bad of ['', 's'.repeat(CLIENT_SECRET_MAX_LENGTH + 1), 'with space', undefined])
    assert.ok(!isClientSecretShape(bad));
  assert.equal(PAGE_CURSOR_MAX_LENGTH, 512);
  assert.ok(isPageCursorShape('WyJBMSIsImV1Il0'));
  // The dashboard used to take any 512 characters here (the API only visible ASCII): one rule now.
  for (const bad of ['', 'c'.repeat(PAGE_CURSOR_MAX_LENGTH + 1), 'a b', 'caf\u00e9'])
    assert.ok(!isPageCursorShape(bad));
});
