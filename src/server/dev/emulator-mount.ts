/**
 * How `spapi-auth dev` mounts the embedded emulator under the service, and what it prints: the
 * emulator answers the Amazon paths a browser or the CLI reaches at the dev origin; a path neither
 * knows gets the service's own 404 (not an SP-API error body), and every request is one short line.
 */
import type { PartnerKind, Region } from '../../core/marketplaces.js';
import { errorResponse, fromFetchHandler, type Handler } from '../http/request.js';
import type { DevPartner } from './page.js';

/**
 * The dev fallback: the emulator for every path no service route claims, except that the
 * emulator's "no such resource" becomes the service's `404 not_found` (its control API under
 * `/__emulator/` keeps its own 404, which lists the control routes).
 *
 * @example
 * startService({ …, fallback: devFallback((r) => emulator.fetch(r), config.publicUrl) });
 */
export function devFallback(emulatorFetch: (req: Request) => Promise<Response>, origin: string): Handler {
  const emulator = fromFetchHandler(emulatorFetch, origin);
  return async (req) => {
    const res = await emulator(req);
    if (res.status === 404 && !req.path.startsWith('/__emulator/')) {
      return errorResponse('not_found');
    }
    return res;
  };
}

/**
 * A log sink for dev: `request` lines become `GET /oauth/callback → 303 (4.2 ms)`; every other
 * line is passed on as it is (JSON).
 *
 * @example
 * const log = createLogger({ sink: devLogSink(ctx.stdout), level: 'info' });
 */
export function devLogSink(write: (text: string) => void): (line: string) => void {
  return (line) => {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      write(line);
      return;
    }
    if (rec.msg !== 'request') {
      write(line);
      return;
    }
    const ms = typeof rec.duration_ms === 'number' ? ` (${rec.duration_ms} ms)` : '';
    write(`${String(rec.method)} ${String(rec.route)} → ${String(rec.status)}${ms}\n`);
  };
}

/**
 * The page's partners from the emulator's test accounts.
 *
 * @example
 * registerDevRoutes(router, ctx, devPartnersOf(TEST_SELLERS));
 */
export function devPartnersOf(
  accounts: readonly { sellingPartnerId: string; kind: PartnerKind; regions: readonly Region[] }[],
): DevPartner[] {
  return accounts.flatMap((s) =>
    s.regions.map((region) => ({ kind: s.kind, region, sellingPartnerId: s.sellingPartnerId })),
  );
}
