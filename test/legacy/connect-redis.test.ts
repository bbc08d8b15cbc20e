import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { connectRedis } from '../../src/legacy/index.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import { legacySuite } from '../helpers/legacy-suite.js';
import { needService } from '../helpers/services.js';

const [host = '127.0.0.1', port = '6379'] = (process.env.BATON_REDIS ?? '127.0.0.1:6379').split(':');
const url = `redis://${host}:${port}`;

legacySuite({
  name: 'connect-redis (node-redis)',
  skip: await needService('Redis', Number(port), host),
  async open() {
    const tag = randomBytes(5).toString('hex');
    const client = createClient({ url });
    await client.connect();
    const prefix = `legacy-test-${tag}:`;
    const store = new RedisStore({ client, prefix: `baton-test-${tag}:` });
    return {
      peer: new ConnectRedisStore({ client, prefix }),
      source: connectRedis({ client, prefix }),
      store,
      async close() {
        for await (const keys of client.scanIterator({ MATCH: `*-test-${tag}:*`, COUNT: 500 })) {
          if (keys.length > 0) await client.del(keys);
        }
        await store.close();
        await client.close();
      },
    };
  },
});

describe('connectRedis over an ioredis client', {
  skip: await needService('Redis', Number(port), host),
}, () => {
  it('reads, lists and deletes what connect-redis wrote', async () => {
    const tag = randomBytes(5).toString('hex');
    const prefix = `legacy-io-${tag}:`;
    const writer = createClient({ url });
    await writer.connect();
    const reader = new Redis({ host, port: Number(port), lazyConnect: true });
    await reader.connect();
    try {
      const peer = new ConnectRedisStore({ client: writer, prefix });
      const expires = new Date(Date.now() + 60_000);
      await peer.set('io-1', { cookie: { expires, originalMaxAge: 60_000 }, basket: ['x'] } as never);
      const source = connectRedis({ client: reader, prefix });
      const record = await source.get('io-1');
      assert.deepEqual(record?.data.basket, ['x']);
      assert.ok(
        record?.expiresAt && record.expiresAt > Date.now() && record.expiresAt <= expires.getTime() + 1000,
      );
      const ids: string[] = [];
      for await (const id of source.ids!()) ids.push(id);
      assert.deepEqual(ids, ['io-1']);
      await source.destroy!('io-1');
      assert.equal(await source.get('io-1'), null);
    } finally {
      await writer.close();
      reader.disconnect();
    }
  });
});
