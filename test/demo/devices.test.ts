/**
 * The demo's "your devices" panel and request trace, through its JSON API: two browsers signed in
 * with one name are both listed, "sign out other devices" leaves only this one, and the trace shows
 * what baton did for a request.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DemoProcess, CookieJar as Jar, startDemoProcess } from '../helpers/demo.js';

const CHROME_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

interface Devices {
  user: string | null;
  devices: Array<{ description: string; current: boolean; lastSeenAt: number | null }>;
}

describe('baton demo: devices and trace', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-demo-devices-'));
  let demo: DemoProcess;

  before(async () => {
    demo = await startDemoProcess(['--data', dataDir, '--restart-delay', '1']);
  });
  after(async () => {
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('lists two browsers of one user, and signs out the other one', async () => {
    const mac = new Jar();
    mac.userAgent = CHROME_MAC;
    const windows = new Jar();
    windows.userAgent = FIREFOX_WIN;
    for (const jar of [mac, windows]) {
      const reply = await jar.request(demo.base, '/api/login', { json: { user: 'devi' } });
      assert.equal(reply.status, 200, reply.text);
    }
    const listed = (await mac.request(demo.base, '/api/devices')).body as Devices;
    assert.equal(listed.user, 'devi');
    assert.deepEqual(listed.devices.map((d) => d.description).sort(), [
      'Chrome 131 on macOS',
      'Firefox 133 on Windows',
    ]);
    assert.equal(listed.devices.find((d) => d.current)?.description, 'Chrome 131 on macOS');

    const out = await mac.request(demo.base, '/api/devices/sign-out-others', { method: 'POST' });
    assert.equal(out.status, 200, out.text);
    assert.equal((out.body as { signedOut: number }).signedOut, 1);
    const left = (await mac.request(demo.base, '/api/devices')).body as Devices;
    assert.deepEqual(
      left.devices.map((d) => [d.description, d.current]),
      [['Chrome 131 on macOS', true]],
    );
    assert.equal(
      ((await windows.request(demo.base, '/api/state')).body as { user: string | null }).user,
      null,
    );
  });

  it('shows the trace of the previous request: load, commit and its store write', async () => {
    const jar = new Jar();
    await jar.request(demo.base, '/api/basket', { json: { item: 'tea' } });
    // Round robin: ask every instance; the one that served the basket has it as its last request.
    const traces = [];
    for (let i = 0; i < 3; i++) traces.push((await jar.request(demo.base, '/api/trace')).body);
    const basket = traces
      .map(
        (t) =>
          (
            t as {
              trace: { path: string; steps: Array<{ name: string; detail: Record<string, unknown> }> } | null;
            }
          ).trace,
      )
      .find((t) => t?.path === '/api/basket');
    assert.ok(basket, JSON.stringify(traces));
    assert.deepEqual(
      basket.steps.map((s) => s.name),
      ['load', 'commit', 'store create'],
    );
    assert.equal(basket.steps[1]?.detail.write, 'create');
    assert.equal(basket.steps[2]?.detail.store, 'dynamodb');
    assert.ok(!JSON.stringify(traces).includes(jar.cookies.values().next().value as string));
  });
});
