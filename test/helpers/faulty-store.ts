/**
 * A store wrapper whose calls can be made to fail like an unreachable engine. The memory store
 * cannot be stopped, so outage tests on adapters use this; stores' own fault tests use real engines.
 */
import type { Store } from '../../src/stores/store.js';

type Op = 'get' | 'create' | 'patch' | 'touch' | 'destroy' | 'lock';

export interface FaultyStore extends Store {
  /** Makes these operations reject with an ECONNREFUSED error until `heal()`. */
  fail(ops: Op[]): void;
  heal(): void;
}

export function faulty(inner: Store): FaultyStore {
  const failing = new Set<Op>();
  const refuse = (op: Op) =>
    Promise.reject(
      Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:1 (${op})`), { code: 'ECONNREFUSED' }),
    );
  const wrap =
    <A extends unknown[], R>(op: Op, fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      failing.has(op) ? refuse(op) : fn(...args);
  const store: FaultyStore = {
    name: inner.name,
    limits: inner.limits,
    capabilities: Object.freeze({
      ...inner.capabilities,
      gc: false,
      ensureTable: false,
      serverTime: false,
    }),
    get: wrap('get', (key) => inner.get(key)),
    create: wrap('create', (key, s) => inner.create(key, s)),
    patch: wrap('patch', (key, p) => inner.patch(key, p)),
    touch: wrap('touch', (key, at) => inner.touch(key, at)),
    destroy: wrap('destroy', (key) => inner.destroy(key)),
    onOperation: (listener) => inner.onOperation(listener),
    close: () => inner.close(),
    fail: (ops) => {
      for (const op of ops) failing.add(op);
    },
    heal: () => failing.clear(),
  };
  if (inner.lock) store.lock = wrap('lock', (key, ttl) => inner.lock!(key, ttl));
  if (inner.listByUser) store.listByUser = (userId) => inner.listByUser!(userId);
  if (inner.scan) store.scan = (opts) => inner.scan!(opts);
  return store;
}
