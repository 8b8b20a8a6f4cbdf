import { fastifyAdapter } from './adapters.js';
import { conformance } from './cases.js';

conformance(fastifyAdapter);
