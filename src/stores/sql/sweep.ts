/**
 * Walking and sweeping the table: `scan()` by keyset pages, `gc()` by batches off the expires
 * index, paced to a rate. Each page or batch is one statement.
 */
import { InvalidInputError } from '../../core/errors.js';
import { sleep } from '../kit/index.js';
import type { GcOptions, ScanOptions, SessionSummary } from '../store.js';
import type { SqlDialect, SqlRow, SqlRunner } from './dialect.js';
import { toSummary } from './rows.js';

/** What a sweep needs of its store. */
export interface SweepContext {
  dialect: SqlDialect;
  run: SqlRunner;
  batchSize: number;
  now(): number;
  /** Runs statements, mapping their errors to ours. */
  guard<T>(fn: () => Promise<T>): Promise<T>;
  /** Reports a call as one `operation` (metrics, tracing). */
  measure<T>(op: string, fn: () => Promise<T>): Promise<T>;
}

/** Every session (or every row, with `includeExpired`) in key order, a page per statement. */
export async function* scanPages(ctx: SweepContext, options: ScanOptions): AsyncIterable<SessionSummary> {
  const includeExpired = options.includeExpired ?? false;
  let left = options.limit ?? Number.POSITIVE_INFINITY;
  let after: string | null = null;
  while (left > 0) {
    const size = Math.min(ctx.batchSize, left);
    const cursor: string | null = after;
    const rows: SqlRow[] = await ctx.measure('scan', () =>
      ctx.guard(() => ctx.dialect.scanPage(ctx.run, cursor, size, ctx.now(), includeExpired)),
    );
    for (const row of rows) {
      yield toSummary(row);
      left--;
    }
    const last: SqlRow | undefined = rows.at(-1);
    if (rows.length < size || last === undefined) return;
    after = last.key;
  }
}

/**
 * Deletes expired rows in batches of `batchSize`, by the expires index. `rate` bounds deletions
 * per second; `scanned` counts the expired rows the index led to (the engine never reads live
 * rows for this). The store reports the whole sweep as one `gc` operation.
 */
export async function sweepExpired(
  ctx: SweepContext,
  options: GcOptions,
): Promise<{ deleted: number; scanned: number }> {
  const now = ctx.now();
  if (options.dryRun) {
    const count = await ctx.guard(() => ctx.dialect.countExpired(ctx.run, now));
    options.onProgress?.({ scanned: count, deleted: count });
    return { deleted: count, scanned: count };
  }
  const rate = options.rate;
  if (rate !== undefined && (!Number.isFinite(rate) || rate <= 0)) {
    throw new InvalidInputError(`gc rate must be a number > 0, got ${String(rate)}`, {
      scope: ctx.dialect.name,
    });
  }
  const batch = rate === undefined ? ctx.batchSize : Math.max(1, Math.min(ctx.batchSize, Math.floor(rate)));
  const started = performance.now();
  let deleted = 0;
  for (;;) {
    const n = await ctx.guard(() => ctx.dialect.deleteExpired(ctx.run, now, batch));
    deleted += n;
    options.onProgress?.({ scanned: deleted, deleted });
    if (n < batch) break;
    if (rate !== undefined) {
      // Hold the pace: `deleted` rows may take no less than deleted / rate seconds.
      const ahead = (deleted / rate) * 1000 - (performance.now() - started);
      if (ahead > 0) await sleep(ahead);
    }
  }
  return { deleted, scanned: deleted };
}
