/**
 * Runs one scenario's app in its own process, seeds sessions through the app itself, and
 * measures each route: load from autocannon, store calls counted at the engine (DynamoDB) or
 * the client (Redis, memory), CPU and peak RSS reported by the app.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Child } from './child.js';
import type { DynamoEngine, RedisEngine } from './engines.js';
import { load } from './load.js';
import { isDynamo, type Route, type ScenarioSpec } from './scenarios.js';

export interface Engines {
  dynamo?: DynamoEngine;
  redis?: RedisEngine;
}

export interface RouteMeasurement {
  name: string;
  engine: string;
  route: Route;
  rep: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  failures: number;
  storeCallsPerRequest: number;
  storeCallsByOperation: Record<string, number>;
  writesPerRequest: number;
  readUnitsPerRequest: number | null;
  writeUnitsPerRequest: number | null;
  capacityUnitsPerRequest: number | null;
  /** `measured` (ReturnConsumedCapacity), `computed` (formula × counted calls) or `n/a`. */
  capacitySource: 'measured' | 'computed' | 'n/a';
  appCpuUsPerRequest: number;
  peakRssMb: number;
  /** Redis only: `INFO commandstats` deltas per request (server side, includes commands run inside scripts). */
  serverCommandsPerRequest?: Record<string, number>;
  sessionBytes: number;
}

export interface Timing {
  warmupS: number;
  /**
   * Warm-up of a scenario's first route, when longer than `warmupS`: a fresh app process needs
   * about 3 s under load before its JIT settles (measured on 2 cores shared with the engine and
   * the load generator), and more code settles later.
   */
  firstWarmupS?: number;
  durationS: number;
  connections: number;
  maxRequests: number;
  sessions: number;
}

const APP = fileURLToPath(new URL('./app.ts', import.meta.url));
const DYNAMO_WRITES = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
]);
const DYNAMO_IGNORED = new Set(['DescribeTable', 'CreateTable', 'UpdateTimeToLive', 'DescribeTimeToLive']);
/**
 * The store clock's sample of the engine's time (Redis `TIME`; DynamoDB reads it from a
 * `DescribeTable` reply, ignored above): once a minute per instance, not a per-request call.
 */
const CLOCK_SAMPLES = new Set(['TIME']);
const CLIENT_READS = new Set([
  'GET',
  'HGETALL',
  'MGET',
  'HGET',
  'HMGET',
  'EXISTS',
  'PTTL',
  'TTL',
  'GET_MEMORY',
]);
const ROUTES: Record<Route, { method: 'GET' | 'POST'; path: string; cookies: boolean }> = {
  read: { method: 'GET', path: '/read', cookies: true },
  write: { method: 'POST', path: '/write', cookies: true },
  new: { method: 'GET', path: '/new', cookies: false },
};

export interface AppHandle {
  child: Child;
  base: string;
}

export function tableFor(spec: ScenarioSpec, tag: string): string {
  return `bench-${spec.name}-${tag}`;
}

export async function startApp(
  spec: ScenarioSpec,
  engines: Engines,
  names: { table: string; prefix: string },
  execArgv: string[] = [],
  /** Count store calls and capacity units (the tables); the paired comparisons run without. */
  count = true,
): Promise<AppHandle> {
  const env: Record<string, string> = {
    BENCH_COUNT: count ? '1' : '0',
    BENCH_SCENARIO: spec.name,
    BENCH_ENGINE: spec.engine,
    BENCH_TABLE: names.table,
    BENCH_PREFIX: names.prefix,
    NODE_ENV: 'production',
  };
  if (engines.dynamo) env.BENCH_ENDPOINT = engines.dynamo.endpoint;
  if (engines.redis) env.BENCH_REDIS_URL = engines.redis.url;
  const readyTimeoutMs = isDynamo(spec.engine) ? engines.dynamo?.appReadyTimeoutMs : undefined;
  const { child, ready } = await Child.start(APP, {
    env,
    execArgv,
    name: `${spec.name}@${spec.engine} app`,
    ...(readyTimeoutMs ? { readyTimeoutMs } : {}),
  });
  return { child, base: `http://127.0.0.1:${ready.port as number}` };
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One request with Node's http client (no global fetch pool limits); returns status, cookie pair, body. */
export function send(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  cookie?: string,
): Promise<{ status: number; cookie: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, agent, headers: cookie ? { cookie } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        const set = res.headers['set-cookie']?.[0];
        resolve({ status: res.statusCode ?? 0, cookie: set?.split(';')[0], body });
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Creates `count` sessions through the app; returns their Cookie headers. */
export async function seed(base: string, count: number, bytes: number): Promise<string[]> {
  const cookies: string[] = [];
  const batch = 16;
  for (let i = 0; i < count; i += batch) {
    const replies = await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, () => send(base, 'POST', `/seed?bytes=${bytes}`)),
    );
    for (const r of replies) {
      if (r.status !== 200 || !r.cookie)
        throw new Error(`seeding failed: ${r.status} ${r.body.slice(0, 200)}`);
      cookies.push(r.cookie);
    }
  }
  return cookies;
}

/** Polls `probe` every 100 ms until two reads agree (at most 10 s). */
async function settle(probe: () => Promise<string>): Promise<void> {
  let last = await probe();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await probe();
    if (now === last) return;
    last = now;
  }
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

function perRequest(counts: Record<string, number>, requests: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(counts)) out[k] = round(v / requests, 3);
  return out;
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** DynamoDB's capacity formulas: strongly consistent read per 4 KB, write per 1 KB (of the larger of before and after). */
export function computedUnits(
  counts: Record<string, number>,
  itemBytes: number,
): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const [op, n] of Object.entries(counts)) {
    if (op === 'GetItem') read += n * Math.max(1, Math.ceil(itemBytes / 4096));
    else if (DYNAMO_WRITES.has(op)) write += n * Math.max(1, Math.ceil(itemBytes / 1024));
  }
  return { read, write };
}

export interface RunScenarioOptions {
  spec: ScenarioSpec;
  engines: Engines;
  routes: Route[];
  rep: number;
  timing: Timing;
  sessionBytes: number;
  /** Bytes of one stored item, for the computed capacity of peers (read after seeding). */
  itemBytes?: (table: string) => Promise<number>;
  /** Use this table and these cookies instead of seeding through the app (the large-table run). */
  fixed?: { table: string; cookies: string[] };
  log: (line: string) => void;
}

export async function runScenario(o: RunScenarioOptions): Promise<RouteMeasurement[]> {
  const { spec, engines, timing } = o;
  const tag = `${o.rep}-${o.sessionBytes}-${randomBytes(3).toString('hex')}`;
  const names = { table: o.fixed?.table ?? tableFor(spec, tag), prefix: `bench:${spec.name}:${tag}:` };
  const app = await startApp(spec, spec.engine === 'memory' ? {} : engines, names);
  const out: RouteMeasurement[] = [];
  try {
    const cookies = o.fixed?.cookies ?? (await seed(app.base, timing.sessions, o.sessionBytes));
    const itemBytes = isDynamo(spec.engine) && o.itemBytes ? await o.itemBytes(names.table) : o.sessionBytes;
    for (const [index, route] of o.routes.entries()) {
      const r = ROUTES[route];
      const warmupS = index === 0 ? Math.max(timing.warmupS, timing.firstWarmupS ?? 0) : timing.warmupS;
      const loadOptions = {
        base: app.base,
        method: r.method,
        path: r.path,
        cookies: r.cookies ? cookies : [],
        connections: timing.connections,
        maxRequests: timing.maxRequests,
      };
      // The warm-up also sizes the measured run: a fixed count of requests, all answered.
      const warm = await load({ ...loadOptions, durationS: warmupS });
      const amount = Math.ceil(Math.max(warm.reqPerSec, 50) * timing.durationS);
      // Requests the warm-up abandoned still finish in the app: wait until the engine is quiet.
      await settle(async () => {
        if (isDynamo(spec.engine)) return JSON.stringify(await engines.dynamo!.counts());
        if (spec.engine === 'redis') {
          const { info: _info, ...rest } = await engines.redis!.commandStats();
          return JSON.stringify(rest);
        }
        return '';
      });
      const dynamoBefore = isDynamo(spec.engine) ? await engines.dynamo!.counts() : {};
      const redisBefore = spec.engine === 'redis' ? await engines.redis!.commandStats() : {};
      await app.child.ask('begin');
      const result = await load({ ...loadOptions, durationS: timing.durationS, amount });
      const end = await app.child.ask('end');
      const dynamoCalls = isDynamo(spec.engine)
        ? delta(await engines.dynamo!.counts(), dynamoBefore)
        : undefined;
      const redisServer =
        spec.engine === 'redis' ? delta(await engines.redis!.commandStats(), redisBefore) : undefined;
      if (redisServer) {
        delete redisServer.info;
        for (const op of CLOCK_SAMPLES) delete redisServer[op.toLowerCase()];
      }

      const requests = Math.max(1, end.requests as number);
      let calls: Record<string, number>;
      let writes: number;
      if (dynamoCalls) {
        for (const op of DYNAMO_IGNORED) delete dynamoCalls[op];
        calls = dynamoCalls;
        writes = Object.entries(calls)
          .filter(([op]) => DYNAMO_WRITES.has(op))
          .reduce((a, [, n]) => a + n, 0);
      } else {
        calls = { ...(end.clientCalls as Record<string, number>) };
        for (const op of CLOCK_SAMPLES) delete calls[op];
        writes = Object.entries(calls)
          .filter(([op]) => !CLIENT_READS.has(op))
          .reduce((a, [, n]) => a + n, 0);
      }
      const totalCalls = Object.values(calls).reduce((a, n) => a + n, 0);

      let readUnits: number | null = null;
      let writeUnits: number | null = null;
      let capacitySource: RouteMeasurement['capacitySource'] = 'n/a';
      if (isDynamo(spec.engine)) {
        if (end.unitsMeasured || totalCalls === 0) {
          // No call reached the engine: zero units, counted rather than computed.
          readUnits = end.readUnits as number;
          writeUnits = end.writeUnits as number;
          capacitySource = 'measured';
        } else {
          const units = computedUnits(calls, itemBytes);
          readUnits = units.read;
          writeUnits = units.write;
          capacitySource = 'computed';
        }
      }
      const m: RouteMeasurement = {
        name: spec.name,
        engine: spec.engine,
        route,
        rep: o.rep,
        reqPerSec: round(result.reqPerSec, 0),
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        requests: result.requests,
        failures: result.failures,
        storeCallsPerRequest: round(totalCalls / requests, 3),
        storeCallsByOperation: perRequest(calls, requests),
        writesPerRequest: round(writes / requests, 3),
        readUnitsPerRequest: readUnits === null ? null : round(readUnits / requests, 3),
        writeUnitsPerRequest: writeUnits === null ? null : round(writeUnits / requests, 3),
        capacityUnitsPerRequest:
          readUnits === null ? null : round((readUnits + (writeUnits ?? 0)) / requests, 3),
        capacitySource,
        appCpuUsPerRequest: round((end.cpuUs as number) / requests, 0),
        peakRssMb: round((end.maxRssKb as number) / 1024, 1),
        sessionBytes: o.sessionBytes,
      };
      if (redisServer) m.serverCommandsPerRequest = perRequest(redisServer, requests);
      out.push(m);
      o.log(
        `  ${spec.name}@${spec.engine} ${route.padEnd(5)} ${String(m.reqPerSec).padStart(6)} req/s  p50 ${m.p50Ms} ms  p99 ${m.p99Ms} ms  calls ${m.storeCallsPerRequest}  writes ${m.writesPerRequest}  cpu ${m.appCpuUsPerRequest} µs ${JSON.stringify(m.storeCallsByOperation)}${m.failures ? `  FAILURES ${m.failures}` : ''}`,
      );
    }
  } catch (err) {
    const tail = app.child.stderr.trim().split('\n').slice(-8).join('\n');
    throw new Error(
      `${spec.name}@${spec.engine}: ${(err as Error).message}${tail ? `\napp stderr:\n${tail}` : ''}`,
    );
  } finally {
    await app.child.stop();
    if (spec.engine === 'redis' && engines.redis && !engines.redis.private)
      await engines.redis.clear(names.prefix);
  }
  return out;
}

/**
 * `keys`: each request sets a different key. `basket`: each request adds a distinct item to the
 * same key, the README's quick-start basket (`basket = [...basket, item]`).
 */
export type LostUpdateScenario = 'keys' | 'basket';

export interface LostUpdateRun {
  name: string;
  engine: string;
  scenario: LostUpdateScenario;
  kept: number[];
  of: number;
}

/**
 * 50 concurrent requests on one session, alternating between two app instances, each setting a
 * different key (or adding a different item to one basket); then counts the keys (items) that
 * survived. `reps` fresh sessions.
 */
export async function lostUpdates(
  spec: ScenarioSpec,
  engines: Engines,
  reps: number,
  writers = 50,
  scenario: LostUpdateScenario = 'keys',
): Promise<LostUpdateRun> {
  const tag = `lost-${randomBytes(3).toString('hex')}`;
  const names = { table: tableFor(spec, tag), prefix: `bench:${spec.name}:${tag}:` };
  const a = await startApp(spec, engines, names);
  let b: AppHandle | undefined;
  const kept: number[] = [];
  try {
    // The second instance starts once the first has made the table.
    b = await startApp(spec, engines, names);
    // One unrecorded round first, so both instances are warm (JIT, sockets) for every recorded one.
    for (let rep = -1; rep < reps; rep++) {
      const [cookie] = await seed(a.base, 1, 200);
      const replies = await Promise.all(
        Array.from({ length: writers }, (_, i) =>
          send(
            i % 2 === 0 ? a.base : b!.base,
            'POST',
            scenario === 'keys' ? `/set/${i}` : `/basket/${i}`,
            cookie,
          ),
        ),
      );
      const failed = replies.filter((r) => r.status !== 200);
      if (failed.length > 0)
        throw new Error(`lost-update writes failed: ${failed[0]?.status} ${failed[0]?.body}`);
      const check = await send(a.base, 'GET', scenario === 'keys' ? '/keys' : '/basket', cookie);
      if (rep >= 0) kept.push((JSON.parse(check.body) as { keys: number }).keys);
    }
  } finally {
    await Promise.all([a.child.stop(), b?.child.stop()]);
    if (spec.engine === 'redis' && engines.redis && !engines.redis.private)
      await engines.redis.clear(names.prefix);
  }
  return { name: spec.name, engine: spec.engine, scenario, kept, of: writers };
}
