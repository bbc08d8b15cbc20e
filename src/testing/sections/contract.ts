/** The store's declarations (capabilities ↔ methods) and its closing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoreCapabilities } from '../../core/store.js';
import { newKey, rejectsWithCode, type SuiteContext } from '../helpers.js';

/** Each capability flag and the method it stands for: flag true ↔ method present. */
export const CAPABILITY_METHODS: Readonly<Record<keyof StoreCapabilities, string>> = Object.freeze({
  lock: 'lock',
  userIndex: 'listByUser',
  scan: 'scan',
  gc: 'gc',
  ensureTable: 'ensureTable',
  serverTime: 'serverTime',
  lockNotify: 'waitForUnlock',
});

export function declarations(ctx: SuiteContext, expected: Partial<StoreCapabilities> | undefined): void {
  describe('declarations', () => {
    it('declares its capabilities in one frozen object of booleans', () => {
      const store = ctx.store();
      assert.equal(typeof store.name, 'string');
      assert.ok(store.name.length > 0, 'the store has a name');
      assert.ok(store.limits.maxSessionBytes > 0, 'limits.maxSessionBytes is a positive number');
      const caps = store.capabilities;
      assert.equal(typeof caps, 'object');
      assert.ok(Object.isFrozen(caps), 'capabilities is frozen');
      for (const flag of Object.keys(CAPABILITY_METHODS)) {
        assert.equal(
          typeof caps[flag as keyof StoreCapabilities],
          'boolean',
          `capabilities.${flag} is a boolean`,
        );
      }
    });

    it('has exactly the methods its capability flags declare (no method that only throws)', () => {
      const store = ctx.store() as unknown as Record<string, unknown> & { capabilities: StoreCapabilities };
      for (const [flag, method] of Object.entries(CAPABILITY_METHODS)) {
        const declared = store.capabilities[flag as keyof StoreCapabilities];
        assert.equal(
          typeof store[method] === 'function',
          declared,
          `capabilities.${flag} is ${declared} but ${method}() is ${typeof store[method] === 'function' ? 'present' : 'absent'}`,
        );
      }
    });

    it('declares the capabilities the suite was told to expect', (t) => {
      if (expected === undefined) return t.skip('no capabilities given to storeConformance');
      const caps = ctx.store().capabilities;
      for (const [flag, value] of Object.entries(expected)) {
        assert.equal(caps[flag as keyof StoreCapabilities], value, `capabilities.${flag}`);
      }
    });
  });
}

/** Last: closes the store, then checks that it refuses calls. */
export function closing(ctx: SuiteContext): void {
  describe('close', () => {
    it('close() is idempotent and later calls fail with StoreUnavailableError', async () => {
      const store = ctx.store();
      await store.close();
      await store.close();
      await rejectsWithCode(store.get(newKey()), 'BATON_STORE_UNAVAILABLE');
    });
  });
}
