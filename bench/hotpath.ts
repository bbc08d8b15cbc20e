/**
 * baton's own CPU on the read route, without HTTP, Express or a network: what the session layer
 * adds on top of one store read. `node --import tsx bench/hotpath.ts [iterations]`
 *
 * Each line times a loop in this process (interleaved rounds, the best round shown, so neighbours
 * on a busy machine disturb it as little as possible):
 * - `load + commit, stub store`: the core alone (cookie, HMAC check, key hash, decode, dirty check);
 * - `store.get, canned aws-lite reply`: the DynamoDB store and its aws-lite transport, on a reply
 *   captured from dynalite (request building, wire conversion, decoding), without aws-lite itself;
 * - `load + commit over that store`: both, i.e. baton's whole share of a read request.
 */

import { generateId, sign } from '../src/core/ids.js';
import { SessionManager } from '../src/core/manager.js';
import { DynamoDBStore } from '../src/stores/dynamodb/index.js';
import type { Store, StoredSession } from '../src/stores/store.js';

const SECRET = 'hotpath-secret-0123456789-abcdefghijklmnop';
const iterations = Number(process.argv[2] ?? 20_000);

const now = Date.now();
const stored: StoredSession = {
  data: { user: '"bench-user"', n: '0', payload: JSON.stringify('x'.repeat(200)) },
  createdAt: now,
  expiresAt: now + 86_400_000,
  absoluteExpiresAt: now + 7 * 86_400_000,
  version: 1,
};

/** A store that answers `get` at once: only the core's work is left. */
function stubStore(): Store {
  return {
    name: 'stub',
    limits: { maxSessionBytes: 400_000 },
    capabilities: Object.freeze({
      lock: false,
      userIndex: false,
      scan: false,
      gc: false,
      ensureTable: false,
      serverTime: false,
      lockNotify: false,
    }),
    get: async () => ({ ...stored, data: { ...stored.data } }),
    create: async () => {},
    patch: async () => ({ version: 2 }),
    touch: async () => true,
    destroy: async () => true,
    onOperation: () => () => {},
    close: async () => {},
  };
}

/** The body dynalite sends for a GetItem of that session (shape as captured on the wire). */
function cannedReply(key: string): Record<string, unknown> {
  return {
    Item: {
      id: { S: key },
      expires: { N: String(Math.ceil(stored.expiresAt / 1000)) },
      xms: { N: String(stored.expiresAt) },
      created: { N: String(stored.createdAt) },
      abs: { N: String(stored.absoluteExpiresAt) },
      v: { N: '1' },
      wt: { S: 'AbCdEfGhIjKlMnOp' },
      data: { M: Object.fromEntries(Object.entries(stored.data).map(([k, v]) => [k, { S: v }])) },
    },
    ConsumedCapacity: { TableName: 'hotpath', CapacityUnits: 1 },
  };
}

async function time(name: string, fn: () => Promise<unknown>): Promise<{ name: string; us: number }> {
  for (let i = 0; i < 2_000; i++) await fn();
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) await fn();
  const used = process.cpuUsage(start);
  return { name, us: (used.user + used.system) / iterations };
}

async function main(): Promise<void> {
  const id = generateId();
  const cookie = `sid=${sign(id, SECRET)}`;

  const core = new SessionManager({ store: stubStore(), secret: SECRET });
  const key = core.keyFor(id);
  const reply = cannedReply(key);
  const fakeLite = async () => ({ statusCode: 200, payload: structuredClone(reply) });
  const store = new DynamoDBStore({ tableName: 'hotpath', client: fakeLite as never, onWarning: () => {} });
  const full = new SessionManager({ store, secret: SECRET });
  // A listener, as the benchmark app has: the store then times each call and reports capacity.
  store.onOperation(() => {});

  const clone = async () => structuredClone(reply);
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['structuredClone of the reply (subtracted below)', clone],
    ['load + commit, stub store (core)', async () => core.commit(await core.load({ cookie }))],
    ['store.get, canned aws-lite reply (store + transport)', () => store.get(key)],
    [
      'load + commit over that store (baton, all of it)',
      async () => full.commit(await full.load({ cookie })),
    ],
  ];
  const best = new Map<string, number>();
  for (let round = 0; round < 5; round++) {
    for (const [name, fn] of round % 2 === 0 ? cases : [...cases].reverse()) {
      const r = await time(name, fn);
      best.set(name, Math.min(best.get(name) ?? Number.POSITIVE_INFINITY, r.us));
    }
  }
  const base = best.get(cases[0]?.[0] as string) ?? 0;
  for (const [name] of cases) {
    const us = best.get(name) ?? 0;
    const net = name.includes('store') && !name.includes('stub') ? us - base : us;
    process.stdout.write(`${net.toFixed(1).padStart(8)} µs  ${name}\n`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
