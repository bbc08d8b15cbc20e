/**
 * Backpressure while the commit is pending: a response held until the session is committed tells
 * its writer to wait (`write` returns false past the high-water mark) and wakes it with 'drain'
 * once the held output is out, so a streamed body is not piled up in memory. Through real HTTP,
 * Express and node:http (the two adapters that hold a Node response), over memory, Redis and
 * DynamoDB (dynalite).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { session } from '../../src/adapters/express/index.js';
import { createSessions } from '../../src/adapters/node-http/index.js';
import type { Session } from '../../src/core/session.js';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import type { Store } from '../../src/stores/store.js';
import { sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';
import { close, Jar, listen } from '../helpers/http.js';
import { needService } from '../helpers/services.js';

const SECRET = 'backpressure-secret-that-is-long-enough-0123456789';
const CHUNK = 64 * 1024;
const STREAM_BYTES = 8 * 1024 * 1024;

/** Writes 64 KB chunks while `write` says go on (64 at most), then waits for 'drain' (3 s at most). */
async function writeUntilFull(
  res: ServerResponse,
): Promise<{ chunks: number; full: boolean; drained: boolean }> {
  let chunks = 0;
  let full = false;
  while (chunks < 64 && !full) {
    chunks++;
    full = !res.write(Buffer.alloc(CHUNK, 97));
  }
  let drained = false;
  if (full) {
    const timer = new Promise((resolve) => setTimeout(resolve, 3000).unref());
    drained = await Promise.race([once(res, 'drain').then(() => true), timer.then(() => false)]);
  }
  return { chunks, full, drained };
}

/** Routes: POST /full (the write loop above, result in a trailer line), GET /stream (8 MB piped), GET /state. */
async function route(url: string, res: ServerResponse, s: Session) {
  if (url === '/full') {
    s.wrote = true;
    const result = await writeUntilFull(res);
    res.end(`\n${JSON.stringify(result)}`);
  } else if (url === '/stream') {
    s.streamed = true;
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent >= STREAM_BYTES) return void this.push(null);
        sent += CHUNK;
        this.push(Buffer.alloc(CHUNK, 98));
      },
    });
    await pipeline(source, res);
  } else {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ...s }));
  }
}

function servers(store: Store) {
  const app = express();
  app.use(session({ store, secret: SECRET }));
  app.use((req, res) => void route(req.url, res, req.session));
  const sessions = createSessions({ store, secret: SECRET });
  return {
    express: createServer(app),
    'node-http': createServer(sessions.withSession((req, res, s) => route(req.url ?? '/', res, s))),
  };
}

function cases(name: string, getStore: () => Store) {
  for (const framework of ['express', 'node-http'] as const) {
    it(`${name}, ${framework}: a held write returns false past the high-water mark, and 'drain' follows the commit`, async () => {
      const server = servers(getStore())[framework];
      const url = await listen(server);
      try {
        const jar = new Jar();
        const reply = await jar.request(url, '/full', { method: 'POST' });
        assert.equal(reply.status, 200);
        const result = JSON.parse(reply.text.slice(reply.text.lastIndexOf('\n') + 1)) as {
          chunks: number;
          full: boolean;
          drained: boolean;
        };
        assert.equal(result.full, true, `write never returned false (${result.chunks} chunks of 64 KB held)`);
        assert.equal(result.chunks, 1, 'the first 64 KB chunk already passes the 16 KB mark');
        assert.equal(result.drained, true, "'drain' came after the commit");
        assert.equal(reply.text.lastIndexOf('\n'), result.chunks * CHUNK, 'every held byte was sent');
        assert.ok(jar.cookie, 'the cookie was set');
        const state = await jar.request(url, '/state');
        assert.equal(state.body.wrote, true, 'the session change was committed');
      } finally {
        await close(server);
      }
    });

    it(`${name}, ${framework}: an 8 MB body piped while the commit is pending arrives whole`, async () => {
      const server = servers(getStore())[framework];
      const url = await listen(server);
      try {
        const res = await fetch(`${url}/stream`, { signal: AbortSignal.timeout(10_000) });
        assert.equal(res.status, 200);
        const body = Buffer.from(await res.arrayBuffer());
        assert.equal(body.length, STREAM_BYTES);
        assert.ok(res.headers.getSetCookie().length === 1, 'the cookie was set before the body');
      } finally {
        await close(server);
      }
    });
  }
}

describe('backpressure while the commit is pending', () => {
  cases('memory', () => new MemoryStore());

  describe('Redis', async () => {
    const skip = await needService('Redis', 6379);
    if (skip) {
      it('Redis', { skip }, () => {});
      return;
    }
    let store: RedisStore;
    before(() => {
      store = new RedisStore({
        url: `redis://127.0.0.1:6379/0?prefix=baton-test-${randomBytes(5).toString('hex')}:`,
      });
    });
    after(() => store?.close());
    cases('redis', () => store);
  });

  describe('DynamoDB (dynalite)', () => {
    let engine: LocalDynamo;
    let client: ReturnType<typeof sdkClient>;
    let store: DynamoDBStore;
    before(async () => {
      engine = await startEngine();
      client = sdkClient(engine.endpoint);
      store = new DynamoDBStore({ tableName: tableName(), client, ...warnings() });
      await store.ensureTable();
    });
    after(async () => {
      await store?.close();
      client?.destroy();
      await engine?.close();
    });
    cases('dynamodb', () => store);
  });
});
