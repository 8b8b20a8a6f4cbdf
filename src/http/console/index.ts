export { type ActionContext, BUILT_IN_ACTIONS, type ConsoleAction, field } from './actions.js';
export type { ConsoleDownstream } from './downstream.js';
export { type ConsoleServerOptions, checkListen, DEFAULT_HOST, DEFAULT_PORT, isLoopback } from './options.js';
export type { RateLimitOptions } from './rate-limit.js';
export { type ConsoleServer, startConsoleServer } from './server.js';
