import { honoFetchAdapter } from './adapters.js';
import { conformance } from './cases.js';

conformance(honoFetchAdapter);
