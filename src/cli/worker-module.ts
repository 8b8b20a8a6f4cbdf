import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Tally } from '../tally.js';
import { CliError } from './errors.js';

/** What a `--module` exports: a function that declares entities and commands on the given instance. */
export type SetupFunction = (tally: Tally) => unknown;

/**
 * Loads the user's module for `tally worker --module PATH` and runs its setup on `tally`: the default
 * export, or a named export `setup`, called with the Tally instance. Returns the declared command names.
 *
 * @example
 * // worker.mjs
 * export default function setup(tally) {
 *   const accounts = tally.entity('account', { table: 'accounts', states: { open: ['closed'], closed: [] } });
 *   tally.command('redeem', { fingerprint: (i) => i, steps: [...] });
 * }
 */
export async function loadSetupModule(path: string, cwd: string, tally: Tally): Promise<string[]> {
  const file = resolve(cwd, path);
  if (!existsSync(file)) throw new CliError('MODULE_NOT_FOUND', `no module at ${path}`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(
      'MODULE_LOAD_FAILED',
      `${path} failed to load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    );
  }
  const setup = typeof mod.default === 'function' ? mod.default : mod.setup;
  if (typeof setup !== 'function') {
    throw new CliError(
      'MODULE_INVALID',
      `${path} must export a function (default or named \`setup\`) that receives the Tally instance`,
    );
  }
  // Record what the module declares: the worker drives every command declared on this instance.
  const declared: string[] = [];
  const command = tally.command.bind(tally);
  tally.command = ((name, definition) => {
    const c = command(name, definition);
    declared.push(c.name);
    return c;
  }) as Tally['command'];
  try {
    await (setup as SetupFunction)(tally);
  } catch (err) {
    if (err instanceof CliError) throw err;
    const code = (err as { code?: unknown }).code;
    throw new CliError(
      typeof code === 'string' && /^[A-Z_]+$/.test(code) ? code : 'MODULE_SETUP_FAILED',
      `${path}: setup threw: ${err instanceof Error ? err.message : String(err)}`,
    );
  } finally {
    tally.command = command;
  }
  if (declared.length === 0) {
    throw new CliError('NO_COMMANDS', `${path} declared no commands: call tally.command(...) in its setup`);
  }
  return declared;
}
