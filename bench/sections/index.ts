/** Every benchmark section, in report order. Add yours here (one import, one entry). */
import type { BenchSection } from '../framework.js';
import { libraries } from './libraries.js';
import { library } from './library.js';

export const SECTIONS: readonly BenchSection[] = [library, libraries];
