import { expressAdapter } from './adapters.js';
import { conformance } from './cases.js';

conformance(expressAdapter);
