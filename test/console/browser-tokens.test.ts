// The console behind tokens, in Chromium: without a token it says one is needed and shows no data; a read
// token (typed into the token box, kept in sessionStorage, sent as a bearer token) shows the data but no
// action form; an operator token shows the requeue form and the action goes through (CSRF header included).
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleServer, startConsoleServer } from '../../src/http/console/index.js';
import { type RedeemFixture, redeemFixture } from '../commands/support/redeem.js';
import { browserSkipReason, launchChromium } from '../examples/points-redemption/browser.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';
import { buildConsole } from './browser-setup.js';

const READ = 'read-token-0123456789abcdef';
const OPERATOR = 'operator-token-0123456789abcdef';
const title = `console tokens in Chromium${browserSkipReason ? ` — SKIPPED: ${browserSkipReason}` : ''}`;

describe.skipIf(browserSkipReason !== undefined)(title, () => {
  let t: TestDatabase;
  let fx: RedeemFixture;
  let server: ConsoleServer;
  let browser: Browser;
  let built: ReturnType<typeof buildConsole>;
  let id: string;

  beforeAll(async () => {
    built = buildConsole();
    [t, browser] = await Promise.all([freshPGlite(), launchChromium()]);
    fx = await redeemFixture(t.db, 'ct', { maxAttempts: 1, breaker: false });
    fx.prizes.faults.crashNext = 1_000_000;
    const key = fx.nextKey();
    await fx.redeem.submit({ key, principal: 'u1', input: { user: 'u1', prize: 'mug', qty: 1 } });
    for (let i = 0; i < 3; i++) {
      fx.clock.advance(60_000);
      await fx.tally.worker().runOnce();
    }
    const tl = (await fx.redeem.timeline({ key, principal: 'u1' }))!;
    expect(tl.command.status).toBe('needs_attention');
    id = tl.command.id;
    server = await startConsoleServer({
      db: t.db,
      port: 0,
      consoleDir: built.dir,
      tally: fx.tally,
      readToken: READ,
      operatorToken: OPERATOR,
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await t?.close();
    built?.remove();
  });

  async function useToken(page: Page, token: string): Promise<void> {
    await page.locator('#token').fill(token);
    await page.locator('#token-form button[type="submit"]').click();
  }

  it('no token: says a token is needed, shows nothing; read token: data, no action; operator token: the action works', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/#/commands/${id}`);
    await expect
      .poll(() => page.locator('#access').getAttribute('data-access'), { timeout: 15_000 })
      .toBe('none');
    await expect
      .poll(() => page.locator('#view .error').getAttribute('data-code'), { timeout: 15_000 })
      .toBe('UNAUTHORIZED');
    expect(await page.locator('#timeline').count()).toBe(0);

    await useToken(page, READ);
    await expect
      .poll(() => page.locator('#access').getAttribute('data-access'), { timeout: 15_000 })
      .toBe('read');
    await page.locator('#timeline').waitFor({ timeout: 15_000 });
    expect(await page.evaluate('sessionStorage.getItem("tally.console.token")')).toBe(READ);
    expect(await page.locator('form[data-action="requeue"]').count()).toBe(0);
    // A reload keeps the token (sessionStorage) and the view (the address).
    await page.reload();
    await page.locator('#timeline').waitFor({ timeout: 15_000 });
    expect(await page.locator('#access').getAttribute('data-access')).toBe('read');

    await useToken(page, OPERATOR);
    await expect
      .poll(() => page.locator('#access').getAttribute('data-access'), { timeout: 15_000 })
      .toBe('operator');
    const form = page.locator('#command-actions form[data-action="requeue"]');
    await form.waitFor({ timeout: 15_000 });
    await form.locator('input[name="actor"]').fill('ops:erin');
    await form.locator('input[name="reason"]').fill('downstream fixed');
    await form.locator('button').click();
    await expect
      .poll(() => page.locator('#command .badge[data-status]').first().getAttribute('data-status'), {
        timeout: 15_000,
      })
      .toBe('pending');
    const ev = (await fx.redeem.timeline({ id }))!.events.find((e) => e.kind === 'requeued');
    expect(ev?.data).toMatchObject({ actor: 'ops:erin', reason: 'downstream fixed' });
    await page.context().close();
  });
});
