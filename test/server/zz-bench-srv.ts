import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { makeService, connectSeller } from './helpers.js';
import { listen } from '../../src/server/node.js';
const svc = await makeService({ SPAPI_AUTH_KEY_RATE_LIMIT: '0' }, { logLevel: 'info' });
await connectSeller(svc);
const running = await listen(svc.app.handle, { port: 0, host: '127.0.0.1' });
const body = JSON.stringify({
  access_token: 'Atza|' + 'x'.repeat(300),
  expires_at: new Date().toISOString(),
  region: 'na',
  endpoint: 'https://sellingpartnerapi-na.amazon.com',
});
const bare = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(body);
});
await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
writeFileSync(
  '/tmp/bench-ports.json',
  JSON.stringify({
    svc: running.url,
    bare: `http://127.0.0.1:${(bare.address() as any).port}`,
    key: svc.apiKey,
  }),
);
setTimeout(() => process.exit(0), 90_000);
