/**
 * Scale runs (full mode only): session sizes 1 KB / 10 KB / 100 KB; reads from a table holding
 * 100,000 live sessions (seeded with BatchWriteItem directly); `gc()` throughput on 100,000
 * expired items.
 */
import { BatchWriteItemCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { generateId, sign } from '../src/core/ids.js';
import { SessionManager } from '../src/core/manager.js';
import { ATTR } from '../src/stores/dynamodb/codec.js';
import { DynamoDBStore } from '../src/stores/dynamodb/index.js';
import type { DynamoEngine } from './engines.js';
import { type Engines, type RouteMeasurement, round, runScenario, type Timing } from './measure.js';
import { BENCH_SECRET, SCENARIOS, type ScenarioSpec } from './scenarios.js';

export interface ScaleResults {
  sizes: RouteMeasurement[];
  largeTable?: { liveSessions: number; seedSeconds: number; read: RouteMeasurement | undefined };
  gc?: {
    expiredItems: number;
    deleted: number;
    scanned: number;
    seconds: number;
    itemsPerSecond: number;
    capacityUnits: number;
  };
  errors: string[];
}

const SIZES = [1024, 10 * 1024, 100 * 1024];
const SIZE_SCENARIOS = ['baton', 'connect-dynamodb', 'dynamodb-store', 'floor-lite'];
/** BatchWriteItem takes at most 25 items. */
const BATCH = 25;

function sdk(dynamo: DynamoEngine): DynamoDBClient {
  return new DynamoDBClient({
    region: 'us-east-1',
    endpoint: dynamo.endpoint,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
}

/** Writes `count` items made by `make(i)`, 25 per BatchWriteItem, 8 batches in flight; resends unprocessed items. */
export async function batchWrite(
  client: DynamoDBClient,
  table: string,
  count: number,
  make: (i: number) => any,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const start = next;
      next = Math.min(count, next + BATCH);
      let requests = Array.from({ length: next - start }, (_, k) => ({
        PutRequest: { Item: make(start + k) },
      }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 20) throw new Error('BatchWriteItem kept leaving items unprocessed');
        const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
        requests = (out.UnprocessedItems?.[table] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** A stored baton session item to clone: made by the store itself, so the layout is the store's. */
export async function templateItem(
  store: DynamoDBStore,
  client: DynamoDBClient,
  table: string,
): Promise<Record<string, any>> {
  const now = Date.now();
  await store.create('template', {
    data: { user: '"bench-user"', n: '0', payload: JSON.stringify('x'.repeat(200)) },
    createdAt: now,
    expiresAt: now + 86_400_000,
    absoluteExpiresAt: now + 7 * 86_400_000,
    version: 1,
  });
  const out = await client.send(new GetItemCommand({ TableName: table, Key: { id: { S: 'template' } } }));
  if (!out.Item) throw new Error('the template item was not stored');
  return out.Item;
}

export async function runScale(o: {
  dynamo: DynamoEngine;
  engines: Engines;
  log: (line: string) => void;
  /** Live sessions in the large table, and expired items for gc. @default 100000 */
  items?: number;
}): Promise<ScaleResults> {
  const LARGE = o.items ?? 100_000;
  const result: ScaleResults = { sizes: [], errors: [] };
  const timing: Timing = { warmupS: 1, durationS: 3, connections: 16, maxRequests: 100_000, sessions: 50 };
  const specs = SCENARIOS.filter((s) => s.engine === 'dynamodb' && SIZE_SCENARIOS.includes(s.name));
  for (const bytes of SIZES) {
    o.log(`  session size ${bytes / 1024} KB`);
    for (const spec of specs) {
      try {
        result.sizes.push(
          ...(await runScenario({
            spec,
            engines: o.engines,
            routes: spec.routes.filter((r) => r !== 'new'),
            rep: 0,
            timing,
            sessionBytes: bytes,
            log: o.log,
          })),
        );
      } catch (err) {
        result.errors.push(`${spec.name} at ${bytes} B: ${(err as Error).message.split('\n')[0]}`);
        o.log(`  ${spec.name} at ${bytes} B FAILED: ${(err as Error).message}`);
      }
    }
  }

  const client = sdk(o.dynamo);
  const lite = await (await import('@aws-lite/client')).default({
    region: 'us-east-1',
    endpoint: o.dynamo.endpoint,
    accessKeyId: 'bench',
    secretAccessKey: 'bench',
    keepAlive: true,
  } as never);
  try {
    // 100,000 live sessions, then the read route against 2,000 of them.
    const liveTable = `bench-large-${Date.now()}`;
    const store = new DynamoDBStore({ tableName: liveTable, client: lite as never, onWarning: () => {} });
    await store.ensureTable();
    const template = await templateItem(store, client, liveTable);
    const manager = new SessionManager({ store, secret: BENCH_SECRET });
    const ids = Array.from({ length: 2_000 }, () => generateId());
    o.log(`  seeding ${LARGE} live sessions with BatchWriteItem…`);
    const seedStart = Date.now();
    await batchWrite(client, liveTable, LARGE, (i) => ({
      ...template,
      id: { S: manager.keyFor(ids[i] ?? generateId()) },
    }));
    const seedSeconds = round((Date.now() - seedStart) / 1000, 1);
    const cookies = ids.map((id) => `sid=${sign(id, BENCH_SECRET)}`);
    const spec = SCENARIOS.find((s) => s.name === 'baton' && s.engine === 'dynamodb') as ScenarioSpec;
    const [read] = await runScenario({
      spec,
      engines: o.engines,
      routes: ['read'],
      rep: 0,
      timing,
      sessionBytes: 200,
      fixed: { table: liveTable, cookies },
      log: o.log,
    });
    if (read && read.storeCallsPerRequest !== 1)
      result.errors.push('large table: the read route did not find its sessions');
    result.largeTable = { liveSessions: LARGE, seedSeconds, read };
    await manager.close();

    // 100,000 expired items, then one gc().
    const gcTable = `bench-gc-${Date.now()}`;
    const gcStore = new DynamoDBStore({ tableName: gcTable, client: lite as never, onWarning: () => {} });
    await gcStore.ensureTable();
    const expiredTemplate = await templateItem(gcStore, client, gcTable);
    const past = Date.now() - 3_600_000;
    expiredTemplate.expires = { N: String(Math.floor(past / 1000)) };
    expiredTemplate[ATTR.expiresMs] = { N: String(past) };
    o.log(`  seeding ${LARGE} expired sessions…`);
    await batchWrite(client, gcTable, LARGE, (i) => ({ ...expiredTemplate, id: { S: `expired-${i}` } }));
    let units = 0;
    const gcStart = Date.now();
    const { deleted, scanned } = await gcStore.gc({
      onProgress: (p) => {
        units = p.capacityUnits ?? units;
      },
    });
    const seconds = (Date.now() - gcStart) / 1000;
    result.gc = {
      expiredItems: LARGE,
      deleted,
      scanned,
      seconds: round(seconds, 1),
      itemsPerSecond: round(deleted / seconds, 0),
      capacityUnits: round(units, 1),
    };
    o.log(`  gc: deleted ${deleted} of ${LARGE} expired (scanned ${scanned}) in ${round(seconds, 1)} s`);
    await store.close();
    await gcStore.close();
  } catch (err) {
    result.errors.push((err as Error).message.split('\n')[0] ?? '');
    o.log(`  scale run FAILED: ${(err as Error).message}`);
  } finally {
    client.destroy();
  }
  return result;
}
