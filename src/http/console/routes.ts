import type { IncomingMessage } from 'node:http';
import type { Executor } from '../../db/types.js';
import type { Tally } from '../../tally.js';
import { type ActionContext, type ConsoleAction, ENTITY_NAME, field, whoAndWhy } from './actions.js';
import { type Access, checkCsrf, requireOperator, tokensOn } from './auth.js';
import { checkRequest, commandsCheck, downstreamList } from './downstream.js';
import type { ServeConfig } from './options.js';
import { ConsoleError } from './problem.js';
import { isUuid, type Query } from './query.js';
import type { RouteCost } from './rate-limit.js';
import { entityChain } from './reads/chain.js';
import { commandFilter, commandPage, listCommands } from './reads/commands.js';
import { feedView } from './reads/feed.js';
import { entityHistory, entityTypes, jobPage, listAlerts, listJobs } from './reads/others.js';
import { overview } from './reads/overview.js';
import { stateLogCheck } from './reconcile.js';

/** What a route runs with. */
export interface RouteContext {
  readonly config: ServeConfig;
  readonly db: Executor;
  readonly s: string;
  readonly tally: Tally;
  readonly actions: ReadonlyMap<string, ConsoleAction>;
  readonly access: Access;
  readonly query: Query;
  readonly params: readonly string[];
  readonly req: IncomingMessage;
  readonly body: () => Promise<Record<string, unknown>>;
  readonly version: string;
}

interface Route {
  readonly method: 'GET' | 'POST';
  readonly pattern: RegExp;
  readonly run: (c: RouteContext) => Promise<unknown>;
  /** Counted by the per-token rate limit (decision 0148): a list or search, or a reconcile check. */
  readonly cost?: RouteCost;
}

const id = (c: RouteContext, what: 'command' | 'job') => {
  const v = c.params[0]!;
  if (!isUuid(v)) throw new ConsoleError('INVALID_QUERY', `the ${what} id must be a UUID`, { param: 'id' });
  return v.toLowerCase();
};

/** Every API route (docs/console-api.md): path patterns over the decoded segments. */
export const ROUTES: readonly Route[] = [
  {
    method: 'GET',
    pattern: /^\/api\/session$/,
    run: async (c) => ({
      access: c.access,
      tokens: tokensOn(c.config),
      actions: c.access === 'operator' ? [...c.actions.keys()] : [],
      version: c.version,
    }),
  },
  {
    method: 'GET',
    pattern: /^\/api\/overview$/,
    cost: 'read',
    run: (c) => overview(c.db, c.s, c.query, new Date()),
  },
  {
    method: 'GET',
    pattern: /^\/api\/commands$/,
    cost: 'read',
    run: (c) => listCommands(c.db, c.s, commandFilter(c.query)),
  },
  {
    method: 'GET',
    pattern: /^\/api\/commands\/([^/]+)$/,
    run: (c) =>
      commandPage(c.db, c.s, id(c, 'command'), (status, openAlerts) =>
        c.access === 'operator'
          ? [...c.actions.values()].filter((a) => a.appliesTo?.({ status, openAlerts })).map((a) => a.name)
          : [],
      ),
  },
  { method: 'GET', pattern: /^\/api\/entities$/, cost: 'read', run: (c) => entityTypes(c.db, c.s) },
  {
    method: 'GET',
    pattern: /^\/api\/entities\/([^/]+)\/([^/]+)\/history$/,
    cost: 'read',
    run: (c) => entityHistory(c.db, c.s, c.params[0]!, c.params[1]!, c.query),
  },
  {
    method: 'GET',
    pattern: /^\/api\/entities\/([^/]+)\/([^/]+)\/chain$/,
    run: (c) => entityChain(c.db, c.s, c.params[0]!, c.params[1]!, new Date()),
  },
  { method: 'GET', pattern: /^\/api\/jobs$/, cost: 'read', run: (c) => listJobs(c.db, c.s, c.query) },
  {
    method: 'GET',
    pattern: /^\/api\/jobs\/([^/]+)$/,
    cost: 'read',
    run: (c) => jobPage(c.db, c.s, id(c, 'job'), c.query),
  },
  {
    method: 'GET',
    pattern: /^\/api\/feed$/,
    run: async (c) => ({ at: new Date().toISOString(), consumers: await feedView(c.db, c.s, new Date()) }),
  },
  { method: 'GET', pattern: /^\/api\/alerts$/, cost: 'read', run: (c) => listAlerts(c.db, c.s, c.query) },
  {
    // A check writes nothing, so the read token runs it; the CSRF rule of every POST still holds.
    method: 'POST',
    pattern: /^\/api\/reconcile\/state-log$/,
    cost: 'check',
    run: async (c) => {
      checkCsrf(c.req);
      const body = await c.body();
      const entity = field(body, 'entity', ENTITY_NAME);
      if (body.dryRun !== true) {
        throw new ConsoleError('MALFORMED_BODY', 'the check is a dry run: the body needs dryRun: true', {
          param: 'dryRun',
        });
      }
      return stateLogCheck(c.tally, entity);
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/reconcile\/downstreams$/,
    run: async (c) => downstreamList(c.config.downstreams),
  },
  {
    // The commands <-> downstream check (decision 0149): a dry run like the state <-> log one, writes nothing.
    method: 'POST',
    pattern: /^\/api\/reconcile\/commands$/,
    cost: 'check',
    run: async (c) => {
      checkCsrf(c.req);
      const body = await c.body();
      if (body.dryRun !== true) {
        throw new ConsoleError('MALFORMED_BODY', 'the check is a dry run: the body needs dryRun: true', {
          param: 'dryRun',
        });
      }
      return commandsCheck(c.db, c.config.schema, checkRequest(c.config.downstreams, body));
    },
  },
  { method: 'POST', pattern: /^\/api\/actions\/([^/]+)$/, run: runAction },
];

async function runAction(c: RouteContext): Promise<unknown> {
  requireOperator(c.access);
  checkCsrf(c.req);
  const name = c.params[0]!;
  const action = c.actions.get(name);
  if (!action) {
    throw new ConsoleError('ACTION_NOT_AVAILABLE', 'this server offers no action of this name', {
      actions: [...c.actions.keys()],
    });
  }
  const body = await c.body();
  const ctx: ActionContext = {
    tally: c.tally,
    db: c.db,
    s: c.s,
    downstreams: c.config.downstreams,
    ...whoAndWhy(body),
  };
  return { action: action.name, applied: true, result: await action.run(ctx, body) };
}

/**
 * The route for a method and path: its run and the decoded path parameters; ROUTE_NOT_FOUND or
 * METHOD_NOT_ALLOWED otherwise.
 */
export function matchRoute(method: string, path: string): { route: Route; params: string[] } {
  let pathMatched = false;
  for (const route of ROUTES) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) continue;
    const params = m.slice(1).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        throw new ConsoleError('INVALID_QUERY', 'a path segment is not valid percent-encoding', {
          param: 'path',
        });
      }
    });
    return { route, params };
  }
  if (pathMatched) throw new ConsoleError('METHOD_NOT_ALLOWED', 'this route does not take this method');
  throw new ConsoleError('ROUTE_NOT_FOUND', 'no API route has this path');
}
