/**
 * The DynamoDB store behind two Express instances sharing one table (dynalite in this process):
 * concurrent requests, lock mode on a table made like the classic AWS guide's, DynamoDB calls per
 * request, and what the table holds.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { CreateTableCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { hashId } from '../../src/core/ids.js';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { ENGINE, sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';
import { makeApp } from '../helpers/express-app.js';
import { close, Jar, listen } from '../helpers/http.js';

async function cluster(options: Parameters<typeof makeApp>[0]) {
  const servers: Server[] = [];
  const urls: string[] = [];
  for (const name of ['A', 'B']) {
    const server = createServer(makeApp(options, name).app);
    servers.push(server);
    urls.push(await listen(server));
  }
  return { urls: urls as [string, string], close: () => Promise.all(servers.map(close)) };
}

/** DynamoDB commands sent by a client, by name. */
function commands(client: DynamoDBClient): { list: string[]; reset(): void } {
  const list: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      list.push(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: `commands-${randomBytes(4).toString('hex')}` },
  );
  return { list, reset: () => list.splice(0) };
}

describe(`DynamoDBStore behind two Express instances (${ENGINE.name})`, () => {
  let engine: LocalDynamo;
  let client: DynamoDBClient;
  let store: DynamoDBStore;
  let c: Awaited<ReturnType<typeof cluster>>;

  before(async () => {
    engine = await startEngine();
    client = sdkClient(engine.endpoint);
    // Commands are observed through SDK middleware, which only the `sdk` transport runs.
    store = new DynamoDBStore({ tableName: tableName(), client, transport: 'sdk', ...warnings() });
    await store.ensureTable();
    c = await cluster({ store });
  });
  after(async () => {
    await c?.close();
    await store?.close();
    client?.destroy();
    await engine?.close();
  });

  it('keeps all 50 concurrent different-key writes spread over both instances', async () => {
    const jar = new Jar();
    await jar.request(c.urls[0], '/set', { json: { key: 'start', value: true } });
    const cookie = jar.cookie!;
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${c.urls[i % 2]}/set`, {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/json' },
          body: JSON.stringify({ key: `k${i}`, value: i }),
        }),
      ),
    );
    assert.deepEqual(
      replies.map((r) => r.status),
      Array(50).fill(200),
    );
    const state = (await jar.request(c.urls[1], '/state')).body.data;
    for (let i = 0; i < 50; i++) assert.equal(state[`k${i}`], i, `k${i} kept`);
  });

  it('DynamoDB calls per request: 1 unchanged, 2 changed, 0 for a forged cookie', async () => {
    const sent = commands(client);
    const jar = new Jar();
    await jar.request(c.urls[0], '/set', { json: { key: 'a', value: 1 } });
    sent.reset();
    await jar.request(c.urls[1], '/state');
    assert.deepEqual(sent.list, ['GetItem'], 'unchanged request');
    sent.reset();
    await jar.request(c.urls[0], '/set', { json: { key: 'a', value: 2 } });
    assert.deepEqual(sent.list, ['GetItem', 'UpdateItem'], 'changed request');
    sent.reset();
    const [id] = jar.cookie!.slice('sid='.length).split('.') as [string];
    const forged = await new Jar().request(c.urls[1], '/state', {
      headers: { cookie: `sid=${id}.${'A'.repeat(43)}` },
    });
    assert.equal(forged.status, 200);
    assert.deepEqual(forged.body.data, {});
    assert.deepEqual(sent.list, [], 'forged cookie');
  });

  it('the table holds sha256 of the id, never the cookie id, with expires in epoch seconds', async () => {
    const jar = new Jar();
    await jar.request(c.urls[0], '/set', { json: { key: 'name', value: 'Jack Sparrow' } });
    const [id, mac] = jar.cookie!.slice('sid='.length).split('.') as [string, string];
    const items = (await client.send(new ScanCommand({ TableName: store.tableName }))).Items ?? [];
    const ids = items.map((item) => item.id?.S);
    assert.ok(ids.includes(hashId(id)));
    for (const stored of ids) {
      assert.notEqual(stored, id);
      assert.ok(!stored?.includes(id) && !stored?.includes(mac));
    }
    const item = items.find((x) => x.id?.S === hashId(id));
    assert.match(item?.expires?.N ?? '', /^\d{10}$/);
    assert.equal(item?.data?.M?.name?.S, '"Jack Sparrow"');
  });

  it('lock mode on a guide-made table (key id only, 1/1, no index): 10 concurrent pushes, 10 kept', async () => {
    const name = tableName('guide');
    await client.send(
      new CreateTableCommand({
        TableName: name,
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
      }),
    );
    const guide = new DynamoDBStore({ tableName: name, client, transport: 'sdk', ...warnings() });
    const locked = await cluster({ store: guide, concurrency: 'lock' });
    try {
      const jar = new Jar();
      await jar.request(locked.urls[0], '/push', { json: { value: 'first' } });
      const cookie = jar.cookie!;
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          fetch(`${locked.urls[i % 2]}/push`, {
            method: 'POST',
            headers: { cookie, 'content-type': 'application/json' },
            body: JSON.stringify({ value: i, delayMs: 5 }),
          }),
        ),
      );
      assert.deepEqual(
        replies.map((r) => r.status),
        Array(10).fill(200),
      );
      const list = (await jar.request(locked.urls[1], '/state')).body.data.list as unknown[];
      assert.equal(list.length, 11);
      assert.deepEqual(
        list
          .slice(1)
          .map(Number)
          .sort((a, b) => a - b),
        Array.from({ length: 10 }, (_, i) => i),
      );
    } finally {
      await locked.close();
      await guide.close();
    }
  });
});
