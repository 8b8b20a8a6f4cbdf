// A's page in a real browser, clicked as a person clicks: a double click with the second click 150 ms or
// 400 ms after the first, and a reload while the redemption is in flight. Each is one redemption: one
// command at B, one prize at C, 10 points off, and the page shows how it ended.
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrlUnanswered } from '../../support/databases.js';
import { browserSkipReason, launchChromium } from './browser.js';
import { ChainUnderTest, sleep } from './support.js';

let t: ChainUnderTest;
let browser: Browser;

const title = `the page in Chromium: one key, one effect${browserSkipReason ? ` — SKIPPED: ${browserSkipReason}` : ''}`;

// B runs on DATABASE_URL when it is set: one that does not answer skips this, as the other suites do.
describe.skipIf(browserSkipReason !== undefined || databaseUrlUnanswered)(title, () => {
  beforeAll(async () => {
    [t, browser] = await Promise.all([ChainUnderTest.start(), launchChromium()]);
    for (const user of ['alice', 'bob', 'carol', 'warm']) await t.account(user, 100);
    // A first redemption warms B and C up, so the page's answers come as fast as they do in use.
    const warm = await t.viaA({ key: t.key('warm'), user: 'warm', prize: 'mug', qty: 1 });
    expect(warm.status).toBe(200);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.chain.stop();
  });
  afterEach(async () => {
    await t.faults({ delayMs: 0 });
    await t.checkInvariants();
  });

  async function open(user: string): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    await page.goto(t.chain.a.url);
    await page.selectOption('#user', user);
    await expect.poll(() => page.textContent('#points')).not.toBe('?');
    return page;
  }

  /** A person's click: at the button's place, whatever state it is in (no waiting for it to be enabled). */
  async function click(page: Page): Promise<void> {
    const box = (await page.locator('#go').boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  }

  /** Waits until B has no open command for the user and nothing new arrived for a while. */
  async function quiet(user: string): Promise<any> {
    let seen = -1;
    for (const until = Date.now() + 30_000; Date.now() < until; ) {
      await sleep(1500);
      const r = await t.report();
      const mine = r.commands.filter((c: { principal: string }) => c.principal === user);
      if (mine.length === seen && mine.every((c: { status: string }) => c.status === 'succeeded')) return r;
      seen = mine.length;
    }
    throw new Error(`commands of ${user} not final: ${JSON.stringify(await t.report())}`);
  }

  /** Exactly one redemption of one mug for `user`: B's commands and ledger, C's records. */
  async function expectOnePrize(user: string): Promise<void> {
    const b = await quiet(user);
    const commands = b.commands.filter((c: { principal: string }) => c.principal === user);
    expect(commands.map((c: { status: string; qty: number }) => [c.status, c.qty])).toEqual([
      ['succeeded', 1],
    ]);
    expect(b.accounts.find((a: { user: string }) => a.user === user)).toMatchObject({
      points: 90,
      verified: true,
    });
    const c = await t.c();
    const issued = c.records.filter(
      (r: { status: string; request: { user: string } }) => r.status === 'issued' && r.request.user === user,
    );
    expect(issued.map((r: { key: string; request: { qty: number } }) => [r.key, r.request.qty])).toEqual([
      [commands[0].downstreamKey, 1],
    ]);
  }

  async function doubleClick(user: string, gapMs: number): Promise<void> {
    const page = await open(user);
    const key = await page.textContent('#key');
    await click(page);
    await sleep(gapMs);
    await click(page);
    await expectOnePrize(user);
    await expect
      .poll(() => page.locator('#outcome').getAttribute('data-status'), { timeout: 10_000 })
      .toBe('succeeded');
    expect(await page.locator('#outcome').getAttribute('data-key')).toBe(key);
    await page.context().close();
  }

  it('two clicks 150 ms apart are one redemption', async () => {
    await doubleClick('alice', 150);
  });

  it('two clicks 400 ms apart are one redemption', async () => {
    await doubleClick('bob', 400);
  });

  it('a reload while the redemption is in flight finds its key and shows how it ended, one prize', async () => {
    await t.faults({ delayMs: 1500 }); // C answers slowly: the request is in flight when the page reloads
    const page = await open('carol');
    const key = await page.textContent('#key');
    await click(page);
    await sleep(500);
    await page.reload();
    await expect
      .poll(() => page.locator('#outcome').getAttribute('data-status'), { timeout: 20_000 })
      .toBe('succeeded');
    expect(await page.locator('#outcome').getAttribute('data-key')).toBe(key);
    expect(await page.textContent('#key')).toBe(key);
    await expectOnePrize('carol');
    expect(await page.evaluate('sessionStorage.length')).toBe(0); // nothing pending any more
    await page.context().close();
  });

  it('after the outcome is seen, a new redemption gets a new key; changing the form makes a new key', async () => {
    const before = await t.points('alice');
    const page = await open('alice');
    const first = await page.textContent('#key');
    await page.fill('#qty', '2');
    await page.locator('#qty').blur();
    const second = await page.textContent('#key');
    expect(second).not.toBe(first);
    await click(page);
    await expect.poll(() => page.locator('#outcome').getAttribute('data-status')).toBe('succeeded');
    await expect.poll(() => page.locator('#go').textContent()).toBe('Redeem again');
    await expect.poll(() => page.locator('#go').isEnabled()).toBe(true);
    await click(page);
    await expect.poll(() => page.locator('#outcome').getAttribute('data-key')).not.toBe(second);
    await expect.poll(() => page.locator('#outcome').getAttribute('data-status')).toBe('succeeded');
    expect(await t.points('alice')).toBe(before - 40); // two redemptions of 2
    await page.context().close();
  });
});
