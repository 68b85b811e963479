/** Every benchmark section, in report order. Add yours here (one import, one entry). */
import type { BenchSection } from '../framework.js';
import { catchup } from './catchup.js';
import { connectFlow } from './connect.js';
import { flood } from './flood.js';
import { flowAbuse } from './flow-abuse.js';
import { importSection } from './import.js';
import { libraries } from './libraries.js';
import { library } from './library.js';
import { refresh } from './refresh.js';
import { refreshDay } from './refresh-day.js';
import { scale } from './scale.js';
import { sockets } from './sockets.js';
import { tokenApi } from './token-api.js';

export const SECTIONS: readonly BenchSection[] = [
  library,
  libraries,
  tokenApi,
  scale,
  refresh,
  refreshDay,
  catchup,
  connectFlow,
  flowAbuse,
  flood,
  sockets,
  importSection,
];
