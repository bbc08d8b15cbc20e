/**
 * What baton's tracing channels cost when nobody subscribes, on the read route's hot path:
 * `node --import tsx bench/tracing-cost.ts [pairs] [iterations]` (defaults 10 and 20000).
 *
 * The work is bench/hotpath.ts's "baton, all of it": `load` + `commit` of an unchanged session
 * over the DynamoDB store on a canned aws-lite reply (cookie, HMAC check, key hash, request
 * building, decoding, dirty check; no network). Two builds of the same code are compared:
 * - `live`: today's code, no subscribers: every call site checks `channel.hasSubscribers`;
 * - `inert`: the channels' `hasSubscribers` replaced by a constant `false` at startup
 *   (bench/tracing-inert.ts), i.e. the call sites as if compiled out.
 * Each pair runs both in fresh processes, one after the other, the order flipped every pair, and
 * compares their CPU per request (best of 5 rounds within each process). The ratio live / inert is
 * reported per pair, with its median and range: 1.00 means the channels cost nothing measurable.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SECRET = 'tracing-cost-secret-0123456789-abcdefghijklmnop';

/** One process: CPU µs per load + commit, with the channels `live` or `inert`. */
async function measure(mode: 'live' | 'inert', iterations: number): Promise<number> {
  const tracing = await import('../src/core/tracing.js');
  if (mode === 'inert') {
    const { makeTracingInert } = await import('./tracing-inert.js');
    makeTracingInert(tracing);
  }
  const { generateId, sign } = await import('../src/core/ids.js');
  const { SessionManager } = await import('../src/core/manager.js');
  const { DynamoDBStore } = await import('../src/stores/dynamodb/index.js');

  const now = Date.now();
  const data: Record<string, string> = {
    user: '"bench-user"',
    n: '0',
    payload: JSON.stringify('x'.repeat(200)),
  };
  const fakeLite = async () => ({ statusCode: 200, payload: structuredClone(reply) });
  const store = new DynamoDBStore({ tableName: 'hotpath', client: fakeLite as never, onWarning: () => {} });
  // A listener, as the benchmark app has: the store then times each call and reports capacity.
  store.onOperation(() => {});
  const manager = new SessionManager({ store, secret: SECRET });
  const id = generateId();
  const key = manager.keyFor(id);
  // The body dynalite sends for a GetItem of that session (shape as captured on the wire).
  const reply = {
    Item: {
      id: { S: key },
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
  const request = async () => manager.commit(await manager.load({ cookie }));
  const clone = async () => structuredClone(reply);

  const time = async (fn: () => Promise<unknown>) => {
    const start = process.cpuUsage();
    for (let i = 0; i < iterations; i++) await fn();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / iterations;
  };
  for (let i = 0; i < 3_000; i++) await request();
  let best = Number.POSITIVE_INFINITY;
  let cloneBest = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    best = Math.min(best, await time(request));
    cloneBest = Math.min(cloneBest, await time(clone));
  }
  // The canned reply's structuredClone stands in for aws-lite's parsing: not baton's, taken off.
  return best - cloneBest;
}

function runChild(mode: 'live' | 'inert', iterations: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', mode, String(iterations)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.once('message', (m: { us: number }) => resolve(m.us));
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${mode} run exited with code ${code}`));
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    const us = await measure(args[1] === 'inert' ? 'inert' : 'live', Number(args[2]));
    process.send?.({ us });
    return;
  }
  const pairs = Number(args[0] ?? 10);
  const iterations = Number(args[1] ?? 20_000);
  const rows: Array<{ live: number; inert: number; ratio: number }> = [];
  for (let p = 0; p < pairs; p++) {
    const order: Array<'live' | 'inert'> = p % 2 === 0 ? ['live', 'inert'] : ['inert', 'live'];
    const us: Record<string, number> = {};
    for (const mode of order) us[mode] = await runChild(mode, iterations);
    const row = {
      live: us.live as number,
      inert: us.inert as number,
      ratio: (us.live as number) / (us.inert as number),
    };
    rows.push(row);
    process.stdout.write(
      `pair ${p + 1}: live ${row.live.toFixed(2)} µs, inert ${row.inert.toFixed(2)} µs, live / inert ${row.ratio.toFixed(3)}\n`,
    );
  }
  const ratios = rows.map((r) => r.ratio);
  process.stdout.write(
    `\nread route, load + commit over the DynamoDB store (CPU per request, no subscribers): ` +
      `live ${median(rows.map((r) => r.live)).toFixed(2)} µs, inert ${median(rows.map((r) => r.inert)).toFixed(2)} µs; ` +
      `live / inert median ${median(ratios).toFixed(3)} (range ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}, ${rows.length} pairs of ${iterations} requests)\n`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
