/** FLT-03 safety net: a store call that does not answer within timeoutMs becomes StoreUnavailableError (503). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionManager } from '../../src/core/manager.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import type { LockHandle } from '../../src/stores/store.js';
import { request } from '../helpers/manager-flow.js';

const secret = 't'.repeat(40);

/** A MemoryStore whose calls can be held back: the engine is real, the delay is the fault. */
class StallingStore extends MemoryStore {
  stallMs = 0;
  released = 0;
  async #stall(): Promise<void> {
    if (this.stallMs > 0) await new Promise((r) => setTimeout(r, this.stallMs));
  }
  override async get(key: string) {
    await this.#stall();
    return super.get(key);
  }
  override async lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    await this.#stall();
    const handle = await super.lock(key, ttlMs);
    if (!handle) return null;
    return {
      token: handle.token,
      session: handle.session,
      release: async () => {
        this.released++;
        await handle.release();
      },
    };
  }
}

describe('timeoutMs', () => {
  it('a store call slower than timeoutMs fails with 503 StoreUnavailableError, not a hang', async () => {
    const store = new StallingStore();
    const m = new SessionManager({ store, secret, timeoutMs: 100 });
    const errors: unknown[] = [];
    m.on('storeError', (e) => errors.push(e));
    const first = await request(m, undefined, (s) => {
      s.a = 1;
    });
    store.stallMs = 400;
    const started = Date.now();
    await assert.rejects(
      m.load({ cookie: first.cookie }),
      (err: { code: string; status: number; message: string }) => {
        assert.equal(err.code, 'BATON_STORE_UNAVAILABLE');
        assert.equal(err.status, 503);
        assert.match(err.message, /did not answer within 100 ms \(timeoutMs\)/);
        return true;
      },
    );
    const took = Date.now() - started;
    assert.ok(took >= 100 && took < 400, `gave up at the timeout, not when the store answered (${took} ms)`);
    assert.equal(errors.length, 1, 'storeError emitted');
    store.stallMs = 0;
    assert.equal((await request(m, first.cookie)).session.a, 1, 'works again once the store answers');
  });

  it('a lock granted after the timeout is released at once instead of waiting for lockTtl', async () => {
    const store = new StallingStore();
    const m = new SessionManager({ store, secret, timeoutMs: 50, concurrency: 'lock', lockTtl: 30 });
    const first = await request(m, undefined, (s) => {
      s.a = 1;
    });
    store.stallMs = 200;
    await assert.rejects(m.load({ cookie: first.cookie }), { code: 'BATON_STORE_UNAVAILABLE' });
    while (store.released === 0) await new Promise((r) => setTimeout(r, 20));
    store.stallMs = 0;
    const next = await request(m, first.cookie, (s) => {
      s.a = 2;
    });
    assert.equal(next.session.a, 2, 'the next request gets the lock without waiting 30 s');
  });

  it('0 turns the timeout off; bad values are a ConfigError', async () => {
    const store = new StallingStore();
    const m = new SessionManager({ store, secret, timeoutMs: 0 });
    const first = await request(m, undefined, (s) => {
      s.a = 1;
    });
    store.stallMs = 150;
    assert.equal((await request(m, first.cookie)).session.a, 1);
    for (const timeoutMs of [-1, Number.NaN, '5' as unknown as number]) {
      assert.throws(() => new SessionManager({ store, secret, timeoutMs }), {
        code: 'BATON_CONFIG',
        option: 'timeoutMs',
      });
    }
  });
});
