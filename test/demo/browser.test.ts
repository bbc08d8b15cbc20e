/**
 * The demo page in real headless Chromium (Debian's `chromium` driven by playwright-core): three
 * items added by clicking, the instance that served them killed, the basket still there; the same
 * on the sticky cluster empties it. Saves a screenshot of the page: to docs/demo.png (the README's
 * picture) when BATON_UPDATE_SCREENSHOT=1, else to the temp directory so a test run leaves the tree clean.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { type DemoProcess, startDemoProcess } from '../helpers/demo.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT =
  process.env.BATON_UPDATE_SCREENSHOT === '1'
    ? 'docs/demo.png'
    : join(tmpdir(), `baton-demo-${process.pid}.png`);

function chromiumMissing(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const reason = `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`;
  if (process.env.BATON_REQUIRE_SERVICES === '1') {
    throw new Error(`${reason}, and BATON_REQUIRE_SERVICES=1 requires it`);
  }
  process.stderr.write(`\n  NOTICE: skipping the demo browser test: ${reason}\n\n`);
  return `${reason} (skipped)`;
}

const skip = chromiumMissing();

describe('baton demo: the page in Chromium', { skip }, () => {
  let demo: DemoProcess;
  let browser: Browser;
  let page: Page;

  before(async () => {
    demo = await startDemoProcess(['--memory']);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(15_000);
    await page.goto(`${demo.base}/`);
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  const cluster = (kind: string): Locator => page.locator(`section[data-cluster="${kind}"]`);
  const basketItems = (kind: string): Locator => cluster(kind).locator('ul.basket li.item > span');
  const servedBy = async (kind: string): Promise<string> =>
    (await cluster(kind).locator('[data-served-by]').getAttribute('data-served-by')) ?? '';

  async function addThree(kind: string): Promise<void> {
    const section = cluster(kind);
    await section.locator('ul.instances li:not(.down)').nth(2).waitFor();
    let n = 0;
    for (const item of ['Apples', 'Bread', 'Coffee']) {
      await section.getByRole('button', { name: `+ ${item}` }).click();
      n++;
      await basketItems(kind)
        .nth(n - 1)
        .waitFor();
    }
    assert.deepEqual(await basketItems(kind).allTextContents(), ['Apples', 'Bread', 'Coffee']);
  }

  /** Kills the instance that served the last request from its button; resolves with its name. */
  async function killServing(kind: string): Promise<string> {
    const victim = await servedBy(kind);
    assert.ok(victim, 'the page shows no serving instance');
    await cluster(kind)
      .getByRole('button', { name: `Kill ${victim}` })
      .click();
    await cluster(kind).locator(`li.instance.down[data-name="${victim}"]`).waitFor();
    // After a kill the page asks for the state again; wait for another instance's answer.
    await page.waitForFunction(
      ([k, v]) => {
        const el = document.querySelector(`section[data-cluster="${k}"] [data-served-by]`);
        return el !== null && el.getAttribute('data-served-by') !== v;
      },
      [kind, victim] as const,
    );
    return victim;
  }

  it('shared cluster: three items survive the death of the instance that served them', async () => {
    await addThree('shared');
    const victim = await killServing('shared');
    assert.notEqual(await servedBy('shared'), victim);
    assert.deepEqual(await basketItems('shared').allTextContents(), ['Apples', 'Bread', 'Coffee']);
  });

  it('sticky cluster: the same kill empties the basket', async () => {
    await addThree('sticky');
    const victim = await killServing('sticky');
    assert.notEqual(await servedBy('sticky'), victim);
    assert.equal(await basketItems('sticky').count(), 0);
    await cluster('sticky').locator('ul.basket li.empty').waitFor();
  });

  it('logs in, and saves a screenshot of the page', async () => {
    const section = cluster('shared');
    await section.getByLabel('Your name').fill('Jack');
    await section.getByRole('button', { name: 'Log in' }).click();
    await section.getByText('Logged in as').waitFor();
    assert.equal(await section.locator('[data-role="user-name"]').textContent(), 'Jack');
    await section.locator('ul.sessions li').first().waitFor();
    // The basket was kept through login (the session id changed, the data did not).
    assert.deepEqual(await basketItems('shared').allTextContents(), ['Apples', 'Bread', 'Coffee']);

    mkdirSync('docs', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(existsSync(SCREENSHOT));
  });
});
