import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Entity } from '../changes/entity.js';
import type { Tally } from '../tally.js';
import { CliError } from './errors.js';
import { importModule } from './module-import.js';

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
  const { commands } = await runSetupModule(path, cwd, tally);
  if (commands.length === 0) {
    throw new CliError('NO_COMMANDS', `${path} declared no commands: call tally.command(...) in its setup`);
  }
  return commands;
}

/**
 * Imports the module at `path` (relative to `cwd`), runs its setup function on `tally`, and returns what
 * the setup declared: the command names and the entities, in declaration order, and the module's exports
 * (`tally serve` reads its `downstreams`). Shared by `tally worker` (commands), `tally reconcile` /
 * `tally repair` (entities) and `tally serve` (both).
 *
 * @example
 * const { entities } = await runSetupModule('setup.mjs', process.cwd(), tally);
 */
export async function runSetupModule(
  path: string,
  cwd: string,
  tally: Tally,
): Promise<{ commands: string[]; entities: Entity[]; exports: Readonly<Record<string, unknown>> }> {
  const file = resolve(cwd, path);
  if (!existsSync(file)) throw new CliError('MODULE_NOT_FOUND', `no module at ${path}`);
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(file, path);
  } catch (err) {
    if (err instanceof CliError) throw err;
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
  // Record what the module declares on this instance, by wrapping the two declaring methods for the call.
  const commands: string[] = [];
  const entities: Entity[] = [];
  const command = tally.command.bind(tally);
  const entity = tally.entity.bind(tally);
  tally.command = ((name: string, definition: Parameters<typeof command>[1]) => {
    const c = command(name, definition);
    commands.push(c.name);
    return c;
  }) as Tally['command'];
  tally.entity = ((name, options) => {
    const e = entity(name, options);
    entities.push(e);
    return e;
  }) as Tally['entity'];
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
    tally.entity = entity;
  }
  return { commands, entities, exports: mod };
}
