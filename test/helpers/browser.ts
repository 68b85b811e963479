// The one way tests and scripts start a browser: Debian's Chromium through playwright-core, with the
// flags that keep it quiet on a shared machine (no GPU, no background traffic, no updater). Kept in
// one place so a new browser test cannot drift to another binary or a noisier flag set.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (apt-get install chromium); playwright-core downloads no browser of its own. */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless, sandbox off (tests run as root), nothing that reaches the network on its own. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
];

/** Why the browser cannot run here (a message for a skip), or null when it is installed. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install chromium)`;
}

/**
 * Whether a test can drive the browser: without it, the test is skipped with a visible message, or
 * fails when `CI=true` (CI installs Chromium).
 *
 * @example
 * test('…', async (t) => { if (!chromiumOrSkip(t)) return; const browser = await launchChromium(); … });
 */
export function chromiumOrSkip(t: { skip(message: string): void }): boolean {
  const missing = chromiumMissing();
  if (missing === null) return true;
  if (process.env.CI === 'true') throw new Error(`${missing}; CI=true requires it`);
  t.skip(missing);
  return false;
}

/**
 * Launches headless Chromium with the shared flags; close it with `browser.close()`.
 *
 * @example
 * const browser = await launchChromium();
 * try { const page = await browser.newPage(); … } finally { await browser.close(); }
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] });
}
