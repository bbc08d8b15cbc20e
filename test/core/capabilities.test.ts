// The manager reads `store.capabilities`: options that need a capability the store lacks fail at
// construction with a ConfigError naming the option and the store; calls that need one fail with
// NotSupportedError naming the stores that have it. Memcached is the real store without a user index.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { SessionManager } from '../../src/core/manager.js';
import type { SessionOptions } from '../../src/core/options.js';
import type { Store, StoreCapabilities } from '../../src/core/store.js';
import { MemcachedStore } from '../../src/stores/memcached/index.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { needService } from '../helpers/services.js';

const secret = 's'.repeat(32);
const server = process.env.BATON_MEMCACHED ?? '127.0.0.1:11211';
const [host = '127.0.0.1', port = '11211'] = server.split(':');
const skip = await needService('Memcached', Number(port), host);

/** A memory store that declares `lock: false` and, as the contract asks, has no `lock` method. */
function withoutLocks(): Store {
  const inner = new MemoryStore();
  const capabilities: StoreCapabilities = Object.freeze({ ...inner.capabilities, lock: false });
  return {
    name: 'lockless',
    limits: inner.limits,
    capabilities,
    get: (key) => inner.get(key),
    create: (key, s) => inner.create(key, s),
    patch: (key, p) => inner.patch(key, p),
    touch: (key, at) => inner.touch(key, at),
    destroy: (key) => inner.destroy(key),
    onOperation: (listener) => inner.onOperation(listener),
    close: () => inner.close(),
  };
}

function configError(store: Store, options: Partial<SessionOptions>, option: string, mentions: RegExp) {
  assert.throws(
    () => new SessionManager({ store, secret, ...options }),
    (err: { code: string; option: string; message: string }) => {
      assert.equal(err.code, 'BATON_CONFIG');
      assert.equal(err.option, option);
      assert.match(err.message, new RegExp(`the ${store.name} store has none`));
      assert.match(err.message, mentions);
      return true;
    },
  );
}

describe('capabilities', () => {
  it("concurrency: 'lock' with a store that declares no locks is a ConfigError naming the option and the store", () => {
    configError(withoutLocks(), { concurrency: 'lock' }, 'concurrency', /'lock' needs a store with locks/);
    // The same store serves the other modes.
    assert.ok(new SessionManager({ store: withoutLocks(), secret, concurrency: 'merge' }));
  });

  describe('a store without a user index (Memcached)', { skip }, () => {
    const store = new MemcachedStore({
      servers: [server],
      prefix: `baton-test-${randomBytes(5).toString('hex')}:`,
    });
    after(() => store.close());

    it('maxSessionsPerUser and devices are ConfigErrors at construction', () => {
      assert.equal(store.capabilities.userIndex, false);
      configError(store, { maxSessionsPerUser: 2 }, 'maxSessionsPerUser', /user index/);
      configError(store, { devices: true }, 'devices', /user index/);
    });

    it('listByUser and destroyUser reject with NotSupportedError naming the stores that have one', async () => {
      const manager = new SessionManager({ store, secret });
      for (const call of [() => manager.listByUser('u1'), () => manager.destroyUser('u1')]) {
        await assert.rejects(call(), (err: { code: string; message: string }) => {
          assert.equal(err.code, 'BATON_NOT_SUPPORTED');
          assert.match(err.message, /the memcached store has none/);
          assert.match(err.message, /DynamoDB, Redis, PostgreSQL, MySQL, file and memory/);
          return true;
        });
      }
      // Sessions work as ever on it: a login is stored and read back.
      const session = await manager.load({});
      session.userId = 'u1';
      const { setCookie } = await manager.commit(session);
      const again = await manager.load({ cookie: (setCookie[0] as string).split(';')[0] });
      assert.equal(again.userId, 'u1');
      await manager.close();
    });
  });
});
