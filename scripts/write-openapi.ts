// Writes docs/openapi.json and the route table of README.md from the route declarations (the file
// shipped in the package and the table people read; a test fails when either is stale).
// Run: npm run openapi
import { readFileSync, writeFileSync } from 'node:fs';
import { openApiDocument, withRouteTable } from '../src/server/openapi.js';
import { DOCUMENTED_ROUTES } from '../src/server/routes.js';

writeFileSync(
  new URL('../docs/openapi.json', import.meta.url),
  `${JSON.stringify(openApiDocument(DOCUMENTED_ROUTES), null, 2)}\n`,
);
const readme = new URL('../README.md', import.meta.url);
writeFileSync(readme, withRouteTable(readFileSync(readme, 'utf8'), DOCUMENTED_ROUTES));
