// The command list, in the order `spapi-auth --help` shows it. Each command lives in its own file.
import type { Command } from '../command.js';
import { devCommand } from './dev.js';
import { doctorCommand } from './doctor.js';
import { encryptionKeyCommand } from './encryption-key.js';
import { emulatorCommand } from './emulator.js';
import { keysCommand } from './keys.js';
import { migrateCommand } from './migrate.js';
import { secretCommand } from './secret.js';
import { sellersCommand } from './sellers.js';
import { serveCommand } from './serve.js';
import { tokenCommand } from './token.js';
import { urlCommand } from './url.js';
import { webhooksCommand } from './webhooks.js';

export const commands: readonly Command[] = [
  devCommand,
  serveCommand,
  emulatorCommand,
  migrateCommand,
  keysCommand,
  sellersCommand,
  tokenCommand,
  urlCommand,
  encryptionKeyCommand,
  secretCommand,
  webhooksCommand,
  doctorCommand,
];
