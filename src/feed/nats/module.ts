import { loadDriver } from '../../db/driver.js';

let loaded: Promise<typeof import('nats')> | null = null;

/**
 * The `nats` package, loaded when first needed (it is an optional peer: importing `tally/nats` must
 * not fail without it, and using it without the package is a DRIVER_MISSING error that says what to
 * install). A failed load is tried again next time.
 *
 * @example
 * const { headers } = await natsModule();
 */
export function natsModule(): Promise<typeof import('nats')> {
  loaded ??= loadDriver('nats', () => import('nats')).catch((err) => {
    loaded = null;
    throw err;
  });
  return loaded;
}
