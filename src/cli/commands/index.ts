// The command list, in the order `spapi-auth --help` shows it. Each command lives in its own file.
import type { Command } from '../command.js';
import { emulatorCommand } from './emulator.js';

export const commands: readonly Command[] = [emulatorCommand];
