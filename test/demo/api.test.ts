/**
 * The cluster demo end to end, through its JSON API: `baton demo` as a subprocess on a free port
 * with its own data directory. The shared cluster keeps a basket through the death of the
 * instance that served it; the sticky cluster loses it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DemoProcess, isRunning, CookieJar as Jar, startDemoProcess, waitFor } from '../helpers/demo.js';

interface State {
  instance: string;
  basket: string[];
  user: string | null;
}

interface InstanceStatus {
  name: string;
  alive: boolean;
  phase: 'up' | 'down' | 'starting';
  restartAt: number | null;
}

describe('baton demo: the JSON API', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-demo-api-'));
  let demo: DemoProcess;
  const shopper = new Jar();

  before(async () => {
    demo = await startDemoProcess(['--data', dataDir, '--restart-delay', '1']);
  });

  after(async () => {
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function state(jar: Jar, prefix = ''): Promise<State> {
    const reply = await jar.request(demo.base, `${prefix}/api/state`);
    assert.equal(reply.status, 200, reply.text);
    return reply.body as State;
  }

  async function instances(prefix = ''): Promise<InstanceStatus[]> {
    const reply = await new Jar().request(demo.base, `${prefix}/api/instances`);
    assert.equal(reply.status, 200, reply.text);
    return reply.body as InstanceStatus[];
  }

  it('serves the page and lists three live instances per cluster', async () => {
    const page = await fetch(`${demo.base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /cluster demo/);
    assert.deepEqual(
      (await instances()).map((i) => [i.name, i.alive]),
      [
        ['app-1', true],
        ['app-2', true],
        ['app-3', true],
      ],
    );
    assert.deepEqual(
      (await instances('/sticky')).map((i) => i.alive),
      [true, true, true],
    );
  });

  it('shared cluster: the basket survives the death of the instance that served it', async () => {
    const added = await shopper.request(demo.base, '/api/basket', { json: { item: 'Coffee' } });
    assert.equal(added.status, 200, added.text);
    assert.deepEqual((added.body as State).basket, ['Coffee']);

    const seen = new Set<string>();
    let last = '';
    for (let i = 0; i < 6; i++) {
      const s = await state(shopper);
      assert.deepEqual(s.basket, ['Coffee'], `request ${i + 1} on ${s.instance}`);
      seen.add(s.instance);
      last = s.instance;
    }
    assert.ok(seen.size >= 2, `six requests were all served by ${[...seen].join(', ')}`);

    const killed = await shopper.request(demo.base, `/api/instances/${last}/kill`, { method: 'POST' });
    assert.equal(killed.status, 200, killed.text);
    const dead = (await instances()).find((i) => i.name === last);
    // Down, with its restart time, from the moment of the kill (the page counts down from it).
    assert.equal(dead?.alive, false);
    assert.equal(dead?.phase, 'down');
    assert.ok(
      typeof dead?.restartAt === 'number' && dead.restartAt > Date.now() - 1000,
      JSON.stringify(dead),
    );

    for (let i = 0; i < 4; i++) {
      const s = await state(shopper);
      assert.notEqual(s.instance, last, 'the killed instance served a request');
      assert.deepEqual(s.basket, ['Coffee'], `request ${i + 1} after the kill, on ${s.instance}`);
    }

    // The parent starts it again after the restart delay; then it serves the same basket.
    await waitFor(`${last} to come back`, async () => (await instances()).every((i) => i.alive));
    const servedBy = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const s = await state(shopper);
      assert.deepEqual(s.basket, ['Coffee']);
      servedBy.add(s.instance);
    }
    assert.ok(servedBy.has(last), `${last} came back but served none of three requests`);
  });

  it('shared cluster: a crash the balancer learns of late costs no request', async () => {
    // kill -9 from outside: the balancer may still pick the instance and must move on.
    const victim = (await instances()).find((i) => i.name === 'app-2') as InstanceStatus & { pid: number };
    assert.ok(victim.alive && victim.pid > 0);
    process.kill(victim.pid, 'SIGKILL');
    const replies = await Promise.all(Array.from({ length: 6 }, () => state(shopper)));
    for (const s of replies) {
      assert.notEqual(s.instance, 'app-2');
      assert.deepEqual(s.basket, ['Coffee']);
    }
  });

  it('sticky cluster: the same kill loses the basket', async () => {
    const jar = new Jar();
    const added = await jar.request(demo.base, '/sticky/api/basket', { json: { item: 'Coffee' } });
    assert.equal(added.status, 200, added.text);
    const pinned = (added.body as State).instance;

    for (let i = 0; i < 6; i++) {
      const s = await state(jar, '/sticky');
      assert.equal(s.instance, pinned, 'sticky routing moved the client');
      assert.deepEqual(s.basket, ['Coffee']);
    }

    const killed = await jar.request(demo.base, `/sticky/api/instances/${pinned}/kill`, { method: 'POST' });
    assert.equal(killed.status, 200, killed.text);

    const afterKill = await state(jar, '/sticky');
    assert.notEqual(afterKill.instance, pinned);
    // The loss the page shows: the new instance never had this session in its memory.
    assert.deepEqual(afterKill.basket, []);
    for (let i = 0; i < 3; i++) {
      const s = await state(jar, '/sticky');
      assert.equal(s.instance, afterKill.instance, 'the balancer did not pin the client to the new instance');
      assert.deepEqual(s.basket, []);
    }
  });

  it('log in, sessions per user, log out everywhere', async () => {
    const laptop = new Jar();
    const phone = new Jar();
    for (const jar of [laptop, phone]) {
      const reply = await jar.request(demo.base, '/api/login', { json: { user: 'ann' } });
      assert.equal(reply.status, 200, reply.text);
      assert.equal((reply.body as State).user, 'ann');
    }
    const listed = await laptop.request(demo.base, '/api/sessions');
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.body.user, 'ann');
    assert.equal(listed.body.sessions.length, 2);
    assert.equal(listed.body.sessions.filter((s: { current: boolean }) => s.current).length, 1);
    assert.ok(listed.body.live >= 3, `live sessions: ${listed.body.live}`);

    const everywhere = await laptop.request(demo.base, '/api/sessions/logout-everywhere', { method: 'POST' });
    assert.equal(everywhere.status, 200, everywhere.text);
    assert.equal(everywhere.body.destroyed, 2);
    assert.equal((await state(phone)).user, null);
    assert.equal((await state(laptop)).user, null);
  });

  it('prints no deprecation or other runtime warning while it serves', async () => {
    // By now the balancer has proxied requests to both clusters, retried, and restarted instances.
    // (http-proxy 1.18 printed DEP0060 here on Node 22 and 24; Node 20 does not flag util._extend.)
    assert.doesNotMatch(demo.output(), /DeprecationWarning|\[DEP\d+\]|\bWarning:/);
  });

  it('answers bad input with 400 naming the field', async () => {
    const jar = new Jar();
    const empty = await jar.request(demo.base, '/api/basket', { json: { item: '   ' } });
    assert.equal(empty.status, 400);
    assert.match(empty.body.error, /`item`/);
    const noUser = await jar.request(demo.base, '/api/login', { json: {} });
    assert.equal(noUser.status, 400);
    assert.match(noUser.body.error, /`user`/);
    const unknown = await jar.request(demo.base, '/api/instances/app-9/kill', { method: 'POST' });
    assert.equal(unknown.status, 404);
  });

  it('stops every instance on SIGTERM, and a second start reuses the data', async () => {
    await waitFor('the killed instances to come back', async () =>
      [...(await instances()), ...(await instances('/sticky'))].every((i) => i.alive),
    );
    const pids = demo.instancePids();
    assert.equal(pids.length, 6, `instance processes: ${pids.join(', ')}`);
    assert.equal(await demo.stop(), 0, demo.output());
    assert.deepEqual(
      pids.filter((pid) => isRunning(pid)),
      [],
      'instances outlived the demo',
    );

    demo = await startDemoProcess(['--data', dataDir, '--restart-delay', '1']);
    const s = await state(shopper);
    assert.deepEqual(s.basket, ['Coffee'], 'the basket did not survive a restart of the whole demo');
  });

  it('instances exit by themselves when the demo process dies', async () => {
    const pids = demo.instancePids();
    assert.equal(pids.length, 6);
    demo.child.kill('SIGKILL');
    await waitFor('the instances to exit after their parent died', () =>
      pids.every((pid) => !isRunning(pid)),
    );
  });
});
