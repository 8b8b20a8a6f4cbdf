// Each adapter serves the fixture's routes: POST /orders (the command) and POST /crash (the same command
// with a `respond` that can fail once). Real HTTP on 127.0.0.1, except hono-fetch: `app.fetch` with real
// Request/Response objects, as a fetch runtime (Workers, Deno, Bun) calls it.
import 'reflect-metadata';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Controller, Module, Post, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import * as ex from '../../../src/http/express/index.js';
import * as ho from '../../../src/http/hono/index.js';
import { idempotent as fastifyIdempotent, tallyFastify } from '../../../src/http/index.js';
import { idempotentInterceptor, tallyExceptionFilter } from '../../../src/http/nestjs/index.js';
import type { Fixture, HeaderOf } from './fixture.js';

export interface Target {
  /** Sends a request to the adapter's app (real HTTP or app.fetch). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** The port of a real HTTP server (for raw-socket cases); null for hono-fetch. */
  port: number | null;
  close(): Promise<void>;
}

export interface AdapterSpec {
  name: string;
  start(f: Fixture): Promise<Target>;
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
const nodeHeader =
  (req: { headers: Record<string, string | string[] | undefined> }): HeaderOf =>
  (name) =>
    one(req.headers[name]);

/** `f.respond`, or for /orders the default (so only /crash can fail). */
function optionsFor<Req>(f: Fixture, headerOf: (r: Req) => HeaderOf, crash: boolean) {
  return {
    principal: (req: Req) => f.principal(headerOf(req)),
    ...(crash ? { respond: f.respond } : {}),
    log: () => {}, // the suite checks the client's answer; the server log is not under test here
  };
}

function httpTarget(server: Server, close: () => Promise<void>): Target {
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    fetch: (path, init) => fetch(`http://127.0.0.1:${port}${path}`, init),
    async close() {
      // The client's keep-alive sockets would hold close() for the server's keep-alive timeout (72 s).
      const closing = close();
      server.closeAllConnections();
      await closing;
    },
  };
}

async function listen(server: Server): Promise<void> {
  if (server.listening) return;
  await new Promise<void>((r) => server.once('listening', r));
}

export const fastifyAdapter: AdapterSpec = {
  name: 'fastify',
  async start(f) {
    const app = Fastify();
    await app.register(tallyFastify);
    const base = {
      principal: (req: { headers: Record<string, string | string[] | undefined> }) =>
        f.principal(nodeHeader(req)),
    };
    app.post('/orders', fastifyIdempotent(f.order, base));
    app.post('/crash', fastifyIdempotent(f.order, { ...base, respond: f.respond }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return httpTarget(app.server, () => app.close());
  },
};

export const expressAdapter: AdapterSpec = {
  name: 'express',
  async start(f) {
    const app = express();
    app.use(express.json({ limit: '1mb' }));
    app.post('/orders', ex.idempotent(f.order, optionsFor(f, nodeHeader, false)));
    app.post('/crash', ex.idempotent(f.order, optionsFor(f, nodeHeader, true)));
    app.use(ex.tallyErrors({ log: () => {} }));
    const server = app.listen(0, '127.0.0.1');
    await listen(server);
    return httpTarget(server, () => new Promise((r) => server.close(() => r())));
  },
};

function honoApp(f: Fixture): Hono {
  const app = new Hono();
  const headerOf =
    (c: { req: { header(n: string): string | undefined } }): HeaderOf =>
    (n) =>
      c.req.header(n);
  app.post('/orders', ho.idempotent(f.order, optionsFor(f, headerOf, false)));
  app.post('/crash', ho.idempotent(f.order, optionsFor(f, headerOf, true)));
  app.onError(ho.tallyOnError({ log: () => {} }));
  return app;
}

export const honoNodeAdapter: AdapterSpec = {
  name: 'hono-node',
  async start(f) {
    const app = honoApp(f);
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await listen(server);
    return httpTarget(server, () => new Promise((r) => server.close(() => r())));
  },
};

export const honoFetchAdapter: AdapterSpec = {
  name: 'hono-fetch',
  async start(f) {
    const app = honoApp(f);
    return {
      port: null,
      fetch: async (path, init) => app.fetch(new Request(`http://tally.test${path}`, init)),
      close: async () => {},
    };
  },
};

/** The Nest app, declared with plain function calls (no decorator syntax in this file). */
function nestModule(f: Fixture) {
  class Orders {
    create() {}
    crash() {}
  }
  const proto = Orders.prototype;
  const desc = (name: 'create' | 'crash') => Object.getOwnPropertyDescriptor(proto, name)!;
  const headerOf = nestHeader;
  UseInterceptors(idempotentInterceptor(f.order, optionsFor(f, headerOf, false)))(
    proto,
    'create',
    desc('create'),
  );
  Post('orders')(proto, 'create', desc('create'));
  UseInterceptors(idempotentInterceptor(f.order, optionsFor(f, headerOf, true)))(
    proto,
    'crash',
    desc('crash'),
  );
  Post('crash')(proto, 'crash', desc('crash'));
  Controller()(Orders);
  class AppModule {}
  Module({ controllers: [Orders] })(AppModule);
  return AppModule;
}
function nestHeader(req: { headers: Record<string, string | string[] | undefined> }): HeaderOf {
  return nodeHeader(req);
}

export const nestExpressAdapter: AdapterSpec = {
  name: 'nestjs-express',
  async start(f) {
    const app = await NestFactory.create<NestExpressApplication>(
      nestModule(f),
      new ExpressAdapter(express()),
      {
        logger: false,
      },
    );
    // Nest's Express platform parses JSON with body-parser at 100 KiB unless told; 1 MiB as the others.
    app.useBodyParser('json', { limit: '1mb' });
    app.useGlobalFilters(tallyExceptionFilter({ log: () => {} }));
    await app.listen(0, '127.0.0.1');
    return httpTarget(app.getHttpServer() as Server, () => app.close());
  },
};

export const nestFastifyAdapter: AdapterSpec = {
  name: 'nestjs-fastify',
  async start(f) {
    const app = await NestFactory.create<NestFastifyApplication>(nestModule(f), new FastifyAdapter(), {
      logger: false,
    });
    app.useGlobalFilters(tallyExceptionFilter({ log: () => {} }));
    await app.listen(0, '127.0.0.1');
    return httpTarget(app.getHttpServer() as Server, () => app.close());
  },
};
