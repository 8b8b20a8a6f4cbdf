export { isUnreachable } from '../db/unreachable.js';
