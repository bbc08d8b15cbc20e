/**
 * LOAD-02 cross-instance read-your-writes on DynamoDB (dynalite): instance A writes, instance B
 * (its own client, its own store) reads at once; with `consistentRead` true and false. dynalite is
 * a single process, so a stale read cannot happen on it even with eventually consistent reads: the
 * test shows the store asks for what it should (the `ConsistentRead` flag each read carries, seen at
 * the client) and that no read missed the write; the stale-read rate of eventual reads on real
 * DynamoDB is a documentation figure (docs/reliability.md). 200 iterations per setting in `npm test`,
 * 10,000 with BATON_FULL_COUNTS=1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { newKey, record } from '../conformance/suite.js';
import { ENGINE, sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';

const ITERATIONS = process.env.BATON_FULL_COUNTS === '1' ? 10_000 : 200;
/** Writer/reader pairs in flight at once (each pair is sequential: write, then read). */
const LANES = 8;

describe(`LOAD-02: cross-instance read-your-writes (DynamoDB on ${ENGINE.name})`, () => {
  let engine: LocalDynamo;
  const clients: DynamoDBClient[] = [];
  const table = tableName('baton-ryw');
  before(async () => {
    engine = await startEngine();
    const setup = new DynamoDBStore({ tableName: table, client: sdkClient(engine.endpoint), ...warnings() });
    await setup.ensureTable();
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await engine?.close();
  });

  for (const consistentRead of [true, false]) {
    it(`consistentRead ${consistentRead}: ${ITERATIONS} writes on A, each read at once on B`, async (t) => {
      const client = (flags: boolean[]) => {
        const c = sdkClient(engine.endpoint);
        // What each GetItem asked for, seen at the client: the flag the store sends.
        c.middlewareStack.add(
          (next, context) => async (args) => {
            if (context.commandName === 'GetItemCommand') {
              flags.push((args.input as { ConsistentRead?: boolean }).ConsistentRead === true);
            }
            return next(args);
          },
          { step: 'initialize', name: 'recordConsistentRead' },
        );
        clients.push(c);
        return c;
      };
      const seen: boolean[] = [];
      // The flag is seen through SDK middleware, which only the `sdk` transport runs.
      const a = new DynamoDBStore({ tableName: table, client: client([]), transport: 'sdk', ...warnings() });
      const b = new DynamoDBStore({
        tableName: table,
        client: client(seen),
        transport: 'sdk',
        consistentRead,
        ...warnings(),
      });
      let stale = 0;
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: LANES }, async () => {
          const key = newKey();
          await a.create(key, record({ data: { n: '0' } }));
          for (let i = next++; i < ITERATIONS; i = next++) {
            const session = await a.get(key);
            assert.ok(session, 'A reads its own session');
            await a.patch(key, { set: { n: String(i) }, unset: [], expiresAt: session.expiresAt });
            const read = await b.get(key);
            if (read?.data.n !== String(i)) stale++;
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      t.diagnostic(
        `${ITERATIONS} read-after-write pairs across instances, consistentRead ${consistentRead}: ${stale} stale, ${seconds.toFixed(1)} s`,
      );
      assert.equal(stale, 0, 'no read on B missed the write A had just acknowledged');
      assert.ok(seen.length >= ITERATIONS, 'every read on B went to DynamoDB');
      assert.ok(
        seen.every((flag) => flag === consistentRead),
        `every GetItem on B carried ConsistentRead ${consistentRead}`,
      );
    });
  }
});
