import type { ConnectionOptions, NatsConnection } from 'nats';
import { TallyError } from '../../errors.js';
import { natsModule } from './module.js';
import { natsFailure } from './stream.js';

/**
 * Connects to NATS through the optional `nats` package, with typed failures: NATS_UNREACHABLE when no
 * server answers within `timeoutMs`, DRIVER_MISSING when the package is not installed. Once
 * connected, the client reconnects by itself forever (a relay outlives broker restarts).
 *
 * @example
 * const nc = await connectNats('127.0.0.1:4222');
 */
export async function connectNats(
  servers: string | string[],
  options: Partial<ConnectionOptions> & { timeoutMs?: number } = {},
): Promise<NatsConnection> {
  const list = Array.isArray(servers) ? servers : servers.split(',').map((s) => s.trim());
  if (list.length === 0 || list.some((s) => s === '' || /\s/.test(s))) {
    throw new TallyError(
      'INVALID_RELAY_OPTIONS',
      'NATS servers must be host:port or nats://host:port, comma-separated',
    );
  }
  const mod = await natsModule();
  const { timeoutMs = 5000, ...rest } = options;
  try {
    return await mod.connect({
      servers: list,
      timeout: timeoutMs,
      name: 'tally-relay',
      maxReconnectAttempts: -1,
      ...rest,
    });
  } catch (err) {
    const e = natsFailure(err, `connecting to NATS at ${list.join(',')}`);
    throw e.code === 'NATS_UNREACHABLE'
      ? e
      : new TallyError('NATS_UNREACHABLE', e.message, {
          cause: err,
          details: e.details as Record<string, unknown>,
        });
  }
}
