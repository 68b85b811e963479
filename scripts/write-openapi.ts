// Writes docs/openapi.json from src/server/openapi.ts (the file shipped in the package; a test
// fails when the two differ). Run: npm run openapi
import { writeFileSync } from 'node:fs';
import { openApiDocument } from '../src/server/openapi.js';

writeFileSync(
  new URL('../docs/openapi.json', import.meta.url),
  `${JSON.stringify(openApiDocument(), null, 2)}\n`,
);
