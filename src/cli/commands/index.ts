// The command list, in the order `spapi-auth --help` shows it. Each command lives in its own file.
import type { Command } from '../command.js';
import { devCommand } from './dev.js';
import { emulatorCommand } from './emulator.js';
import { keysCommand } from './keys.js';
import { migrateCommand } from './migrate.js';
import { serveCommand } from './serve.js';

export const commands: readonly Command[] = [
  devCommand,
  serveCommand,
  emulatorCommand,
  migrateCommand,
  keysCommand,
];
