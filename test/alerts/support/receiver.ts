import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the receiver does with the next request: answer 200 or 500, or hang past the sender's timeout. */
export type Mode = 'ok' | 'fail' | 'hang';

export interface Received {
  deliveryId: string;
  idempotencyKey: string | undefined;
  attempt: string | undefined;
  authorization: string | undefined;
  body: any;
  answered: number | 'hung';
}

/**
 * A real local HTTP receiver of alert webhooks (a downstream party we do not own): it can fail on
 * purpose, and it dedupes by delivery id as a receiver should (`unique`).
 */
export async function startReceiver() {
  const received: Received[] = [];
  const unique = new Map<string, any>();
  const hung: (() => void)[] = [];
  const state = { mode: 'ok' as Mode };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const mode = state.mode;
      received.push({
        deliveryId: body.deliveryId,
        idempotencyKey: req.headers['idempotency-key'] as string | undefined,
        attempt: req.headers['tally-delivery-attempt'] as string | undefined,
        authorization: req.headers.authorization,
        body,
        answered: mode === 'hang' ? 'hung' : mode === 'ok' ? 200 : 500,
      });
      // A hung request is processed all the same (the sender gave up waiting, not the receiver).
      if (mode !== 'fail') unique.set(body.deliveryId, body);
      if (mode === 'hang') {
        hung.push(() => res.writeHead(200).end('late'));
        return;
      }
      res.writeHead(mode === 'ok' ? 200 : 500, { 'content-type': 'text/plain' }).end(mode);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/tally`,
    received,
    unique,
    state,
    async close() {
      for (const h of hung) h();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
