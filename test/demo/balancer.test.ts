/**
 * The demo's balancer on its own, in front of plain HTTP servers on 127.0.0.1: a backend that
 * refuses connections (a port nobody listens on) while still counted alive, as just after a crash;
 * one that resets connections; the sticky cookie.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Backend, type BackendPool, createBalancer, SKIPPED_HEADER } from '../../src/demo/balancer.js';
import type { ClusterKind } from '../../src/demo/messages.js';
import { close, listen } from '../helpers/http.js';

const PUBLIC_DIR = fileURLToPath(new URL('../../src/demo/public/', import.meta.url));

/** A backend that answers with its name, the path it saw and the body it got. */
function echoServer(name: string): Server {
  return createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ instance: name, method: req.method, url: req.url, body }));
    });
  });
}

/** A port with nothing listening: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await listen(server);
  const { port } = server.address() as AddressInfo;
  await close(server);
  return port;
}

class Pool implements BackendPool {
  #next = 0;
  readonly killed: string[] = [];
  constructor(
    readonly kind: ClusterKind,
    readonly backends: { name: string; port: number | undefined; alive: boolean }[],
  ) {}
  get(name: string | undefined): Backend | undefined {
    const b = this.backends.find((x) => x.name === name);
    return b && this.#wrap(b);
  }
  pick(exclude: ReadonlySet<string>): Backend | undefined {
    for (let i = 0; i < this.backends.length; i++) {
      const b = this.backends[(this.#next + i) % this.backends.length];
      if (b?.alive && !exclude.has(b.name)) {
        this.#next = (this.#next + i + 1) % this.backends.length;
        return this.#wrap(b);
      }
    }
    return undefined;
  }
  status(): unknown[] {
    return this.backends.map((b) => ({ name: b.name, alive: b.alive }));
  }
  #wrap(b: { name: string; port: number | undefined; alive: boolean }): Backend {
    return {
      name: b.name,
      alive: b.alive,
      port: b.port,
      kill: () => {
        if (!b.alive) return false;
        b.alive = false;
        this.killed.push(b.name);
        return true;
      },
    };
  }
}

describe('demo balancer', () => {
  const a = echoServer('a');
  const b = echoServer('b');
  // Takes the request, then drops the connection without an answer.
  const resetting = createServer((req) => req.socket.destroy());
  const balancer: { server?: Server; base?: string } = {};
  let shared: Pool;
  let sticky: Pool;

  before(async () => {
    await Promise.all([listen(a), listen(b), listen(resetting)]);
    const port = (s: Server) => (s.address() as AddressInfo).port;
    shared = new Pool('shared', [
      { name: 'dead', port: await closedPort(), alive: true },
      { name: 'a', port: port(a), alive: true },
      { name: 'b', port: port(b), alive: true },
    ]);
    sticky = new Pool('sticky', [
      { name: 's-a', port: port(a), alive: true },
      { name: 's-reset', port: port(resetting), alive: true },
      { name: 's-b', port: port(b), alive: true },
    ]);
    balancer.server = createBalancer({
      shared,
      sticky,
      publicDir: PUBLIC_DIR,
      restartDelayMs: 3000,
      log: () => {},
    });
    balancer.base = await listen(balancer.server);
  });

  after(async () => {
    await Promise.all([a, b, resetting, balancer.server].map((s) => (s ? close(s) : undefined)));
  });

  it('sends a request whose instance refuses the connection to the next one, body and all', async () => {
    // Round-robin starts at `dead`: refused, so `a` gets it.
    const res = await fetch(`${balancer.base}/api/basket?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ item: 'Tea' }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get(SKIPPED_HEADER), 'dead');
    const body = (await res.json()) as { instance: string; method: string; url: string; body: string };
    assert.deepEqual(body, { instance: 'a', method: 'POST', url: '/api/basket?x=1', body: '{"item":"Tea"}' });
  });

  it('spreads requests round-robin over the instances that answer', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${balancer.base}/api/state`);
      assert.equal(res.status, 200);
      seen.push(((await res.json()) as { instance: string }).instance);
    }
    assert.deepEqual(new Set(seen), new Set(['a', 'b']));
    assert.ok(
      seen.filter((x) => x === 'a').length >= 2 && seen.filter((x) => x === 'b').length >= 2,
      seen.join(),
    );
  });

  it('answers 503 when no instance is up', async () => {
    const down = new Pool('shared', [{ name: 'x', port: await closedPort(), alive: true }]);
    const server = createBalancer({
      shared: down,
      sticky,
      publicDir: PUBLIC_DIR,
      restartDelayMs: 1,
      log: () => {},
    });
    const base = await listen(server);
    try {
      const res = await fetch(`${base}/api/state`);
      assert.equal(res.status, 503);
      assert.match(((await res.json()) as { error: string }).error, /no shared instance is up/);
    } finally {
      await close(server);
    }
  });

  it('sticky: follows the cookie, and moves (with a new cookie) when its instance is gone', async () => {
    const first = await fetch(`${balancer.base}/sticky/api/state`);
    const cookie = first.headers.getSetCookie().find((c) => c.startsWith('baton_demo_sticky='));
    assert.ok(cookie, 'no sticky cookie set');
    assert.match(cookie, /Path=\/sticky/);
    const pinned = ((await first.json()) as { instance: string; url: string }).instance;
    const pair = cookie.split(';')[0] as string;
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${balancer.base}/sticky/api/state`, { headers: { cookie: pair } });
      const body = (await res.json()) as { instance: string; url: string };
      assert.equal(body.instance, pinned);
      assert.equal(body.url, '/api/state', 'the /sticky prefix reached the instance');
      assert.deepEqual(res.headers.getSetCookie(), [], 'the cookie was set again while it held');
    }

    const gone = await fetch(`${balancer.base}/sticky/api/instances/s-${pinned}/kill`, { method: 'POST' });
    assert.equal(gone.status, 200);
    assert.deepEqual(sticky.killed, [`s-${pinned}`]);
    const moved = await fetch(`${balancer.base}/sticky/api/state`, { headers: { cookie: pair } });
    assert.notEqual(((await moved.json()) as { instance: string }).instance, pinned);
    assert.ok(moved.headers.getSetCookie().some((c) => c.startsWith('baton_demo_sticky=')));
  });

  it('does not repeat a POST whose connection was reset (it may have been applied)', async () => {
    const res = await fetch(`${balancer.base}/sticky/api/basket`, {
      method: 'POST',
      headers: { cookie: 'baton_demo_sticky=s-reset', 'content-type': 'application/json' },
      body: '{"item":"Tea"}',
    });
    assert.equal(res.status, 502);
    assert.match(((await res.json()) as { error: string }).error, /s-reset failed/);
  });

  it('repeats a GET whose connection was reset on another instance', async () => {
    const res = await fetch(`${balancer.base}/sticky/api/state`, {
      headers: { cookie: 'baton_demo_sticky=s-reset' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get(SKIPPED_HEADER), 's-reset');
  });

  it('serves the page and refuses unknown paths and oversized bodies', async () => {
    const page = await fetch(`${balancer.base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(
      (await fetch(`${balancer.base}/app.js`)).headers.get('content-type'),
      'text/javascript; charset=utf-8',
    );
    assert.equal((await fetch(`${balancer.base}/../package.json`)).status, 404);
    assert.equal((await fetch(`${balancer.base}/nope`)).status, 404);
    const big = await fetch(`${balancer.base}/api/basket`, { method: 'POST', body: 'x'.repeat(20_000) });
    assert.equal(big.status, 413);
    const unknown = await fetch(`${balancer.base}/api/instances/zzz/kill`, { method: 'POST' });
    assert.equal(unknown.status, 404);
  });
});
