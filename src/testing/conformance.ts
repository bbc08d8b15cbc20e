/**
 * `storeConformance`: the one suite that proves a store, for ours and for anyone's. It registers
 * `node:test` suites (`describe`/`it`) and uses only the public Store contract.
 */
import { after, before, describe } from 'node:test';
import type { Store, StoreCapabilities } from '../core/store.js';
import type { SuiteContext } from './helpers.js';
import { destroyAndNoResurrection, expiryOnRead, roundTrip } from './sections/basics.js';
import { expectedKeys, mergeUnderConcurrency, versionConflicts } from './sections/concurrency.js';
import { closing, declarations } from './sections/contract.js';
import { badInput, oddKeys, operationMetrics, sizeLimit } from './sections/input.js';
import { scanAndGc, userIndex } from './sections/listing.js';
import { locks } from './sections/locks.js';

export interface StoreConformanceOptions {
  /** Names the suite in the test report: `<name>: Store conformance`. */
  name: string;
  /**
   * Makes the store under test, once, before the suite's first test: a fresh, isolated store on
   * its real engine (its own table, key prefix or directory). The suite closes it at the end.
   */
  create: () => Store | Promise<Store>;
  /**
   * The capabilities you expect the store to declare. Each flag given is checked against
   * `store.capabilities` (one test fails on a difference) and decides which sections run;
   * flags not given follow the store's own declaration. @default the store's capabilities
   */
  capabilities?: Partial<StoreCapabilities>;
  /**
   * Resolution of the engine's expiry in ms, for engines that keep whole seconds: expiries read
   * back may differ by this much, and the expiry tests wait this much longer. @default 0
   */
  expiryGranularityMs?: number;
  /**
   * Tests of the store's own quirks, registered inside the suite (before its closing test) and
   * run against the same store: `getStore()` returns it.
   */
  additionalTests?: (getStore: () => Store) => void;
}

/**
 * Registers the conformance suite for a store: declarations (capabilities ↔ methods), round
 * trip, per-key merge under concurrency, version conflicts, `expect` (stale keys), destroy and no
 * resurrection (exactly one of concurrent destroys), expiry on read, locks, user index, scan and
 * gc, size limits, odd keys, bad input, operation metrics, and close. Sections for a capability
 * the store does not declare are skipped, with the reason.
 *
 * ```ts
 * import { storeConformance } from 'baton-session/testing';
 * storeConformance({ name: 'MyStore', create: () => new MyStore({ table: randomName() }) });
 * ```
 * Run it with `node --test` (or any runner that runs `node:test` suites).
 */
export function storeConformance(options: StoreConformanceOptions): void {
  if (typeof options?.name !== 'string' || typeof options.create !== 'function') {
    throw new TypeError('storeConformance needs { name: string, create: () => Store }');
  }
  let store: Store | undefined;
  const ctx: SuiteContext = {
    store: () => {
      if (store === undefined)
        throw new Error(`${options.name}: the store was not created (see the before hook)`);
      return store;
    },
    capabilities: () => ({ ...ctx.store().capabilities, ...options.capabilities }),
    granularity: options.expiryGranularityMs ?? 0,
  };

  describe(`${options.name}: Store conformance`, () => {
    before(async () => {
      store = await options.create();
    });
    after(async () => {
      await store?.close();
    });

    declarations(ctx, options.capabilities);
    roundTrip(ctx);
    mergeUnderConcurrency(ctx);
    versionConflicts(ctx);
    expectedKeys(ctx);
    destroyAndNoResurrection(ctx);
    expiryOnRead(ctx);
    locks(ctx);
    userIndex(ctx);
    scanAndGc(ctx);
    sizeLimit(ctx);
    oddKeys(ctx);
    badInput(ctx);
    operationMetrics(ctx);
    options.additionalTests?.(() => ctx.store());
    closing(ctx);
  });
}
