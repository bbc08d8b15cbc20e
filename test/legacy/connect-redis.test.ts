import { randomBytes } from 'node:crypto';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
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
