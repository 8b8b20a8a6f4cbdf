// Sinks: ship log rows (and command events) to another store after commit, each row exactly once.
export { PostgresSink, type PostgresSinkOptions, postgresSink, type SinkWrite } from './postgres.js';
export type { BackoffOptions } from './retry.js';
export { type RunningSink, type SinkLike, type SinkRunOptions, type SinkStats, startSink } from './run.js';
