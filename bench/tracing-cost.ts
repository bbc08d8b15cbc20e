/**
 * What baton's tracing channels cost when nobody subscribes, on the read route's hot path:
 * `npm run build && node --import tsx bench/tracing-cost.ts [rounds] [requests-per-round]`
 * (defaults 40 and 4000).
 *
 * The work is bench/hotpath.ts's "baton, all of it": `load` + `commit` of an unchanged session
 * over the DynamoDB store on a canned aws-lite reply (cookie, HMAC check, key hash, request
 * building, decoding, dirty check; no network). It runs on two identical copies of the built
 * package (dist/), loaded side by side in this process as separate modules:
 * - `live`: the package as shipped, no subscribers: every call site checks `hasSubscribers`;
 * - `inert`: the same, its channels' `hasSubscribers` replaced by a constant `false` at startup
 *   (bench/tracing-inert.ts), i.e. the call sites as if compiled out.
 * Rounds alternate between the two (the order flipped every pair), so both figures of a pair come
 * from the same moment of the machine; per pair the ratio of CPU per request, live / inert, is
 * taken, and the median and the middle half of those ratios are reported: 1.00 means the channels
 * cost nothing measurable.
 */
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeTracingInert } from './tracing-inert.js';

const rounds = Number(process.argv[2] ?? 40);
const perRound = Number(process.argv[3] ?? 4000);
const SECRET = 'tracing-cost-secret-0123456789-abcdefghijklmnop';
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
// Inside node_modules, so the copies resolve the package's dependencies as dist/ does.
const COPIES = fileURLToPath(new URL('../node_modules/.cache/baton-tracing-cost/', import.meta.url));

type Request = () => Promise<unknown>;

/** One copy of the package with a manager over the DynamoDB store on a canned reply. */
async function setUp(copy: 'live' | 'inert'): Promise<Request> {
  const dir = `${COPIES}${copy}/`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(DIST, dir, { recursive: true });
  const load = (path: string) => import(pathToFileURL(`${dir}${path}`).href);
  if (copy === 'inert') makeTracingInert(await load('core/tracing.js'));
  const { generateId, sign } = await load('core/ids.js');
  const { SessionManager } = await load('core/manager.js');
  const { DynamoDBStore } = await load('stores/dynamodb/index.js');

  const now = Date.now();
  const data: Record<string, string> = {
    user: '"bench-user"',
    n: '0',
    payload: JSON.stringify('x'.repeat(200)),
  };
  let reply: Record<string, unknown> = {};
  const fakeLite = async () => ({ statusCode: 200, payload: structuredClone(reply) });
  const store = new DynamoDBStore({ tableName: 'hotpath', client: fakeLite, onWarning: () => {} });
  // A listener, as the benchmark app has: the store then times each call and reports capacity.
  store.onOperation(() => {});
  const manager = new SessionManager({ store, secret: SECRET });
  const id = generateId();
  // The body dynalite sends for a GetItem of that session (shape as captured on the wire).
  reply = {
    Item: {
      id: { S: manager.keyFor(id) },
      expires: { N: String(Math.ceil((now + 86_400_000) / 1000)) },
      xms: { N: String(now + 86_400_000) },
      created: { N: String(now) },
      abs: { N: String(now + 7 * 86_400_000) },
      v: { N: '1' },
      wt: { S: 'AbCdEfGhIjKlMnOp' },
      data: { M: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, { S: v }])) },
    },
    ConsumedCapacity: { TableName: 'hotpath', CapacityUnits: 1 },
  };
  const cookie = `sid=${sign(id, SECRET)}`;
  return async () => manager.commit(await manager.load({ cookie }));
}

/** CPU µs per call of `fn` over `n` calls. */
async function cpuPerCall(fn: Request, n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

async function main(): Promise<void> {
  const live = await setUp('live');
  const inert = await setUp('inert');
  try {
    // Both copies warmed up (JIT) before anything counts.
    for (let i = 0; i < 3; i++) {
      await cpuPerCall(live, perRound);
      await cpuPerCall(inert, perRound);
    }
    const rows: Array<{ live: number; inert: number; ratio: number }> = [];
    for (let r = 0; r < rounds; r++) {
      const first = r % 2 === 0 ? live : inert;
      const second = first === live ? inert : live;
      const a = await cpuPerCall(first, perRound);
      const b = await cpuPerCall(second, perRound);
      const row = first === live ? { live: a, inert: b } : { live: b, inert: a };
      rows.push({ ...row, ratio: row.live / row.inert });
    }
    const ratios = rows.map((x) => x.ratio);
    const f = (n: number, d = 2) => n.toFixed(d);
    process.stdout.write(
      `read route, load + commit over the DynamoDB store, CPU per request without subscribers:\n` +
        `  live (as shipped)  median ${f(
          quantile(
            rows.map((x) => x.live),
            0.5,
          ),
        )} µs\n` +
        `  inert (no checks)  median ${f(
          quantile(
            rows.map((x) => x.inert),
            0.5,
          ),
        )} µs\n` +
        `  live / inert       median ${f(quantile(ratios, 0.5), 3)}, middle half ${f(quantile(ratios, 0.25), 3)}–${f(quantile(ratios, 0.75), 3)}, ` +
        `range ${f(Math.min(...ratios), 3)}–${f(Math.max(...ratios), 3)} (${rows.length} pairs of ${perRound} requests)\n`,
    );
  } finally {
    rmSync(COPIES, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
