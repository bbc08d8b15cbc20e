/**
 * `baton doctor`: checks a store end to end and says how to fix what is wrong.
 *
 * Usage:
 *   baton doctor --store URL [--json]
 *
 * Examples:
 *   baton doctor --store 'dynamodb://sessions?region=eu-west-1'
 *   baton doctor --json | jq '.findings[] | select(.status != "ok")'
 *
 * Checks: the store answers; (DynamoDB) the table exists and is ACTIVE with partition key `id` (S)
 * and no sort key, TTL is on `expires` (a warning on engines without TTL), the user index exists;
 * a round trip (create, read, destroy of a temporary session) works, with its latency and the
 * capacity units it consumed. Exit code 1 when any check fails; warnings alone exit 0.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { can } from '../../core/capabilities.js';
import type { TableDescription } from '../../stores/dynamodb/index.js';
import type { OperationInfo, Store } from '../../stores/store.js';
import { isLoopback, parseStoreUrl, redactUrl } from '../../stores/url.js';
import {
  hasDescribe,
  jsonOption,
  messageOf,
  printJson,
  ReportedFailure,
  storeOption,
  withStore,
} from '../common.js';

interface DoctorOptions {
  store?: string;
  json?: boolean;
}

export interface Finding {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

export interface RoundTrip {
  ms: { create: number; get: number; destroy: number; total: number };
  /** Capacity units of the four calls, where the engine reports them (DynamoDB). */
  capacityUnits?: number;
}

const ms = (start: number) => Math.round((performance.now() - start) * 10) / 10;

/** Tables up to this many items are counted exactly; DescribeTable's figure lags by hours. */
const EXACT_COUNT_LIMIT = 1000;

/**
 * The table's size in words: an exact count (expired items not yet deleted included) when it holds
 * at most EXACT_COUNT_LIMIT items, else DescribeTable's estimate, named as such.
 */
async function itemsOf(store: Store, d: TableDescription): Promise<string | undefined> {
  if (!d.exists || d.itemCount === undefined) return undefined;
  const estimate = `DescribeTable estimates ~${d.itemCount} items, refreshed about every 6 hours`;
  if (!can(store, 'scan') || d.itemCount > EXACT_COUNT_LIMIT) return estimate;
  let n = 0;
  try {
    for await (const _ of store.scan!({ includeExpired: true, limit: EXACT_COUNT_LIMIT + 1 })) n++;
  } catch {
    // No Scan permission, say: the estimate is all there is (the round trip reports real failures).
    return estimate;
  }
  return n > EXACT_COUNT_LIMIT ? `more than ${EXACT_COUNT_LIMIT} items (${estimate})` : `${n} items`;
}

function tableFindings(
  d: TableDescription,
  url: string,
  localEngine: boolean,
  items: string | undefined,
): Finding[] {
  const createTable = `baton create-table --store '${url}'`;
  if (!d.exists) {
    return [
      {
        check: 'table',
        status: 'fail',
        detail: `table \`${d.tableName}\` does not exist`,
        fix: `create it: ${createTable} (or check the table name and the region)`,
      },
    ];
  }
  const out: Finding[] = [];
  const keyOk = d.hashKey?.matches === true && d.hasSortKey !== true;
  const billing =
    d.billingMode === 'PAY_PER_REQUEST'
      ? 'on-demand'
      : d.provisioned
        ? `provisioned ${d.provisioned.read} RCU / ${d.provisioned.write} WCU`
        : 'provisioned';
  if (!keyOk) {
    out.push({
      check: 'table',
      status: 'fail',
      detail: `table \`${d.tableName}\` has partition key ${d.hashKey?.name ?? '?'} (${d.hashKey?.type ?? '?'})${d.hasSortKey ? ' and a sort key' : ''}`,
      fix: 'use a table with partition key `id` of type S and no sort key (or set the store option `hashKey`)',
    });
  } else if (d.status !== 'ACTIVE') {
    out.push({
      check: 'table',
      status: 'warn',
      detail: `table \`${d.tableName}\` is ${d.status ?? 'not ACTIVE'}`,
      fix: 'wait until it is ACTIVE (create-table waits for you)',
    });
  } else {
    out.push({
      check: 'table',
      status: 'ok',
      detail: `\`${d.tableName}\` ACTIVE, partition key ${d.hashKey?.name} (S), ${billing}${items === undefined ? '' : `, ${items}`}`,
    });
  }
  if (d.ttl !== undefined) {
    if (!d.ttl.supported || (localEngine && !d.ttl.matches)) {
      out.push({
        check: 'ttl',
        status: 'warn',
        detail:
          'this engine deletes nothing by TTL (dynalite): expired sessions are never served but stay until deleted',
        fix: `run \`baton gc --store '${url}'\` on a schedule`,
      });
    } else if (d.ttl.matches) {
      out.push({ check: 'ttl', status: 'ok', detail: `TTL ${d.ttl.status} on \`${d.ttl.attribute}\`` });
    } else {
      out.push({
        check: 'ttl',
        status: 'fail',
        detail:
          d.ttl.attribute === undefined || d.ttl.status === 'DISABLED'
            ? 'TTL is off: expired sessions are never deleted and keep costing storage'
            : `TTL is on \`${d.ttl.attribute}\`, not on the store's expiry attribute`,
        fix: `${createTable} turns TTL on (or set the store option \`ttlAttribute\` to the table's)`,
      });
    }
  }
  if (d.userIndex !== undefined) {
    if (d.userIndex.present && d.userIndex.keyMatches !== false) {
      out.push({
        check: 'user index',
        status: d.userIndex.status === undefined || d.userIndex.status === 'ACTIVE' ? 'ok' : 'warn',
        detail: `\`${d.userIndex.name}\` ${d.userIndex.status ?? 'present'}`,
      });
    } else {
      out.push({
        check: 'user index',
        status: 'fail',
        detail: d.userIndex.present
          ? `index \`${d.userIndex.name}\` is not keyed on \`uid\``
          : `no index \`${d.userIndex.name}\`: "log out everywhere" (listByUser, baton revoke --user) cannot work`,
        fix: `${createTable} adds it (on AWS it backfills in minutes), or set the store option \`userIndex: false\``,
      });
    }
  }
  return out;
}

/** Writes, reads and deletes a temporary session, timing each call and summing capacity units. */
export async function roundTrip(store: Store): Promise<RoundTrip> {
  let units: number | undefined;
  const off = store.onOperation((info: OperationInfo) => {
    if (info.capacityUnits !== undefined) units = (units ?? 0) + info.capacityUnits;
  });
  const key = `baton-doctor-${randomUUID()}`;
  const now = Date.now();
  try {
    const total = performance.now();
    let t = performance.now();
    await store.create(key, {
      data: { probe: '"baton doctor"' },
      createdAt: now,
      expiresAt: now + 60_000,
      absoluteExpiresAt: now + 60_000,
      version: 1,
    });
    const create = ms(t);
    t = performance.now();
    const read = await store.get(key);
    const get = ms(t);
    if (read?.data.probe !== '"baton doctor"') {
      throw new Error(
        'the session written was not read back the same (check replication and consistency settings)',
      );
    }
    t = performance.now();
    const existed = await store.destroy(key);
    const destroy = ms(t);
    if (!existed) throw new Error('the session written was gone before it was destroyed');
    const result: RoundTrip = { ms: { create, get, destroy, total: ms(total) } };
    if (units !== undefined) result.capacityUnits = Math.round(units * 100) / 100;
    return result;
  } catch (err) {
    await store.destroy(key).catch(() => false);
    throw err;
  } finally {
    off();
  }
}

/**
 * dynalite answers DescribeTimeToLive (always DISABLED) but cannot turn TTL on: a warning there.
 * DynamoDB Local turns it on and reports ENABLED, so it is judged as AWS is.
 */
function isLocalEngine(url: string): boolean {
  try {
    const parsed = parseStoreUrl(url);
    const endpoint = parsed.kind === 'dynamodb' ? parsed.options.clientConfig?.endpoint : undefined;
    return endpoint !== undefined && isLoopback(endpoint);
  } catch {
    return false;
  }
}

export async function diagnose(
  store: Store,
  url: string,
): Promise<{ findings: Finding[]; roundTrip?: RoundTrip }> {
  const findings: Finding[] = [];
  const shown = redactUrl(url);
  let reachable = true;
  const started = performance.now();
  try {
    if (hasDescribe(store)) {
      const d = await store.describe();
      findings.push({
        check: 'reachable',
        status: 'ok',
        detail: `DescribeTable answered in ${ms(started)} ms`,
      });
      findings.push(...tableFindings(d, shown, isLocalEngine(url), await itemsOf(store, d)));
    } else {
      await store.get(`baton-doctor-${randomUUID()}`);
      findings.push({ check: 'reachable', status: 'ok', detail: `a read answered in ${ms(started)} ms` });
    }
  } catch (err) {
    reachable = false;
    findings.push({
      check: 'reachable',
      status: 'fail',
      detail: messageOf(err),
      fix: 'check that the engine runs and the URL (host, port, region, endpoint) and credentials are right',
    });
  }
  let trip: RoundTrip | undefined;
  const tableMissing = findings.some((f) => f.check === 'table' && f.status === 'fail');
  if (reachable && !tableMissing) {
    try {
      trip = await roundTrip(store);
      findings.push({
        check: 'round trip',
        status: 'ok',
        detail:
          `create ${trip.ms.create} ms, get ${trip.ms.get} ms, destroy ${trip.ms.destroy} ms (total ${trip.ms.total} ms)` +
          (trip.capacityUnits === undefined ? '' : `, ${trip.capacityUnits} capacity units`),
      });
    } catch (err) {
      findings.push({
        check: 'round trip',
        status: 'fail',
        detail: messageOf(err),
        fix: 'the store answered but could not write, read and delete a session: check permissions (baton iam-policy) and the table',
      });
    }
  }
  // What the store can do is reported once it answers: "ok" next to an outage would read as health.
  if (!reachable) return { findings };
  // Named as before: the flags `lock`, `userIndex` (listByUser), `scan`, `gc` the store declares.
  const caps = [
    can(store, 'lock') ? 'lock' : undefined,
    can(store, 'userIndex') ? 'listByUser' : undefined,
    can(store, 'scan') ? 'scan' : undefined,
    can(store, 'gc') ? 'gc' : undefined,
  ].filter((c) => c !== undefined);
  findings.push({
    check: 'capabilities',
    status: 'ok',
    detail: `${store.name} store: ${caps.length === 0 ? 'basic operations only' : caps.join(', ')}; max session ${store.limits.maxSessionBytes} bytes`,
  });
  return trip === undefined ? { findings } : { findings, roundTrip: trip };
}

export function doctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'check a store: reachable, table, key, TTL, user index, a round trip with latency and capacity units',
    )
    .addOption(storeOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Exit code 1 when a check fails (each failure comes with a fix); warnings alone exit 0.

Examples:
  $ baton doctor --store 'dynamodb://sessions?region=eu-west-1'
  $ baton doctor --store redis://127.0.0.1:6379/0 --json`,
    )
    .action(async (options: DoctorOptions) => {
      const warnings: string[] = [];
      const result = await withStore(options.store, (store) => diagnose(store, options.store ?? ''), {
        onWarning: (message) => warnings.push(messageOf(message)),
      });
      const failed = result.findings.filter((f) => f.status === 'fail').length;
      const warned = result.findings.filter((f) => f.status === 'warn').length;
      const healthy = failed === 0;
      if (options.json === true) {
        printJson({ store: redactUrl(options.store ?? ''), healthy, ...result, warnings });
      } else {
        const lines = [`baton doctor ${redactUrl(options.store ?? '')}`];
        for (const f of result.findings) {
          lines.push(`  ${f.status.padEnd(4)}  ${f.check.padEnd(12)}  ${f.detail}`);
          if (f.fix !== undefined) lines.push(`  ${''.padEnd(4)}  ${''.padEnd(12)}  fix: ${f.fix}`);
        }
        for (const w of warnings) lines.push(`  note  ${w}`);
        const ok = result.findings.length - failed - warned;
        lines.push(
          healthy
            ? `healthy: ${ok} ok${warned === 0 ? '' : `, ${warned} warning${warned === 1 ? '' : 's'}`}`
            : `unhealthy: ${failed} failed, ${warned} warning${warned === 1 ? '' : 's'}, ${ok} ok`,
        );
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      if (!healthy) throw new ReportedFailure('unhealthy');
    });
}
