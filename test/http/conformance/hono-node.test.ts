import { honoNodeAdapter } from './adapters.js';
import { conformance } from './cases.js';

conformance(honoNodeAdapter);
