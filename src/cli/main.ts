#!/usr/bin/env node
// The `spapi-auth` executable. Everything it does is in cli.ts, which tests call in-process.
import { main } from './cli.js';

main(process.argv.slice(2), {
  env: process.env,
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  cwd: process.cwd(),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`spapi-auth: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
