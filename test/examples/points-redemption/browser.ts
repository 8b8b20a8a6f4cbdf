// Chromium for the page's tests (playwright-core drives the system's browser; it downloads none).
// Under CI=true a missing browser fails the run; elsewhere the tests are skipped with the reason in their name.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

const inCI = process.env.CI === 'true' || process.env.CI === '1';

function findChromium(): string | undefined {
  const candidates = process.env.CHROMIUM_PATH
    ? [process.env.CHROMIUM_PATH]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .flatMap((d) => [join(d, 'chromium'), join(d, 'chromium-browser')]);
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {}
  }
  return undefined;
}

export const CHROMIUM = findChromium();

/** Why the browser tests do not run here, or undefined when they do. */
export const browserSkipReason = CHROMIUM
  ? undefined
  : 'chromium not found on PATH (apt-get install chromium, or set CHROMIUM_PATH); .ci/run installs it';

if (!CHROMIUM && inCI) {
  // Under CI a missing browser is a failure, never a silent skip.
  throw new Error(`CI=true but ${browserSkipReason}`);
}

/** Launches headless Chromium as the tests use it: no sandbox (containers), no network of its own. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM!,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
