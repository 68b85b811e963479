// Cleanup that belongs to the test that made the resource: registered with the test's own hooks,
// run when it ends, pass or fail — instead of a try/finally around the whole test body.

/** The hooks a test offers: `t` of `it`/`test` (`t.after` runs when the test ends). */
export interface AfterHooks {
  after(fn: () => Promise<void> | void): void;
}

/**
 * `resource`, closed when the test ends.
 *
 * @example
 * it('…', async (t) => { const store = closeAfter(t, await openStore(url)); … });
 */
export function closeAfter<T extends { close(): unknown }>(t: AfterHooks, resource: T): T {
  t.after(async () => {
    await resource.close();
  });
  return resource;
}
