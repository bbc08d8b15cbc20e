/** The reliability rows on the real Redis (127.0.0.1:6379), each run under its own key prefix; raw dump by SCAN. */
import { randomBytes } from 'node:crypto';
import { after, describe } from 'node:test';
import { createClient } from 'redis';
import { RedisStore } from '../../src/stores/redis/index.js';
import { needService } from '../helpers/services.js';
import { reliabilitySuite } from './store-suite.js';

const url = 'redis://127.0.0.1:6379';
const skip = await needService('Redis', 6379);
const prefix = `baton-rel-${randomBytes(5).toString('hex')}:`;

describe('Redis', { skip }, () => {
  const admin = createClient({ url });
  after(async () => {
    if (!admin.isOpen) return;
    for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await admin.del(keys);
    }
    await admin.close();
  });

  reliabilitySuite(
    'RedisStore',
    async () => {
      await admin.connect();
      return new RedisStore({ url, prefix });
    },
    {
      repeat: 30,
      logoutRuns: 200,
      sessions: 300,
      dump: async () => {
        const out: string[] = [];
        for await (const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
          for (const key of keys) {
            const type = await admin.type(key);
            const value =
              type === 'hash'
                ? await admin.hGetAll(key)
                : type === 'zset'
                  ? await admin.zRangeWithScores(key, 0, -1)
                  : type === 'set'
                    ? await admin.sMembers(key)
                    : type === 'string'
                      ? await admin.get(key)
                      : type;
            out.push(key, JSON.stringify(value));
          }
        }
        return out;
      },
    },
  );
});
