/** The reliability rows on the real Memcached (127.0.0.1:11211) under a prefix of their own; dump by the keys issued. */
import { randomBytes } from 'node:crypto';
import { after, describe } from 'node:test';
import { MemcacheClient } from 'memcache-client';
import { MemcachedStore } from '../../src/stores/memcached/index.js';
import { needService } from '../helpers/services.js';
import { reliabilitySuite } from './store-suite.js';

const server = '127.0.0.1:11211';
const skip = await needService('Memcached', 11211);
const prefix = `baton-rel-${randomBytes(5).toString('hex')}:`;

describe('Memcached', { skip }, () => {
  const raw = new MemcacheClient({ server });
  after(() => raw.shutdown());
  let store: MemcachedStore;
  reliabilitySuite(
    'MemcachedStore',
    async () => {
      store = new MemcachedStore({ servers: [server], prefix });
      return store;
    },
    {
      userIndex: false,
      scan: false,
      repeat: 5,
      logoutRuns: 50,
      sessions: 200,
      // Memcached cannot list keys: read back every item the suite created, raw.
      dump: async (_store, keys) => {
        const out: string[] = [];
        for (const key of keys) {
          const item = await raw.get<string>(store.itemKey(key));
          out.push(store.itemKey(key), item ? String(item.value) : '');
        }
        return out;
      },
    },
  );
});
