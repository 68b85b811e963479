// The canary sweep (docs/security.md T-H1): every test that handles secrets registers its marker values
// here (client secret, codes, refresh and access tokens, API keys, encryption keys, states), then
// scans whatever it captured — process output, HTTP error bodies, /metrics, a database dump — and
// gets back where each marker leaked. Values are never printed in full, so a failing test does not
// become a leak of its own.

/** One occurrence of a marker in a captured source. */
export interface Leak {
  readonly marker: string;
  readonly source: string;
}

/** A set of marker secrets and the sweep over captured text. */
export interface Canary {
  /** Registers a secret under a name (empty and very short values are ignored: they match everything). */
  add(name: string, value: string | undefined | null): void;
  /** The registered names. */
  readonly names: readonly string[];
  /** Every (marker, source) pair where a registered secret occurs in a source's text. */
  scan(sources: Readonly<Record<string, string | Uint8Array>>): Leak[];
  /** Throws an AssertionError-like error naming the leaks (never the values) when there is any. */
  assertClean(sources: Readonly<Record<string, string | Uint8Array>>): void;
}

/**
 * Creates a canary set.
 *
 * @example
 * const canary = createCanary();
 * canary.add('client_secret', SECRET);
 * canary.assertClean({ stdout: out, 'GET /metrics': metricsText, 'pg_dump': dump });
 */
export function createCanary(): Canary {
  const markers = new Map<string, Set<string>>();
  const text = (v: string | Uint8Array): string =>
    typeof v === 'string' ? v : Buffer.from(v).toString('latin1');
  const api: Canary = {
    add(name, value) {
      if (value === undefined || value === null || value.length < 8) return;
      let set = markers.get(name);
      if (set === undefined) markers.set(name, (set = new Set()));
      set.add(value);
      // Also look for the URL-encoded form: a secret in a query string or a form body.
      const encoded = encodeURIComponent(value);
      if (encoded !== value) set.add(encoded);
    },
    get names() {
      return [...markers.keys()];
    },
    scan(sources) {
      const leaks: Leak[] = [];
      for (const [source, raw] of Object.entries(sources)) {
        const body = text(raw);
        for (const [marker, values] of markers) {
          for (const v of values) {
            if (body.includes(v)) {
              leaks.push({ marker, source });
              break;
            }
          }
        }
      }
      return leaks;
    },
    assertClean(sources) {
      const leaks = api.scan(sources);
      if (leaks.length > 0) {
        throw new Error(`canary leaks: ${leaks.map((l) => `${l.marker} in ${l.source}`).join('; ')}`);
      }
    },
  };
  return api;
}

/**
 * Registers the secrets every process-level run holds: the LWA client secret, the encryption key
 * (when given), the API key, and each seeded seller's refresh token as `refresh_token <id>`.
 *
 * @example
 * addRunSecrets(canary, { clientSecret: secrets.clientSecret, keyBytes: secrets.keyBytes, apiKey, seeded });
 */
export function addRunSecrets(
  canary: Canary,
  run: {
    readonly clientSecret: string;
    readonly keyBytes?: string;
    readonly apiKey: string;
    readonly seeded?: ReadonlyMap<string, { readonly refreshToken: string }>;
  },
): void {
  for (const [id, t] of run.seeded ?? []) canary.add(`refresh_token ${id}`, t.refreshToken);
  canary.add('api_key', run.apiKey);
  canary.add('client_secret', run.clientSecret);
  canary.add('encryption_key', run.keyBytes);
}
