/**
 * `baton migrate`: copies live sessions from one store to another, keeping each session's expiry,
 * version and user, so a team can switch stores without logging anyone out.
 *
 * Usage:
 *   baton migrate --from URL --to URL [--dry-run] [--concurrency N] [--progress] [--json]
 *   baton migrate --from LEGACY_URL --to URL [--dry-run] [--rate N] [--key-prefix P] [--user-key K]
 *     (express-session stores: connect-redis://, connect-dynamodb://, dynamodb-store://,
 *      connect-pg-simple://, express-mysql-session://; see migrate-legacy.ts)
 *
 * Examples:
 *   baton migrate --from redis://127.0.0.1:6379/0 --to 'dynamodb://sessions?region=eu-west-1' --dry-run
 *   baton migrate --from redis://127.0.0.1:6379/0 --to 'dynamodb://sessions?region=eu-west-1'
 *   baton migrate --from file:///var/lib/sessions --to 'postgres://app@db/app?table=sessions' --json
 *
 * Safe to run twice: a key the target has already is skipped, or replaced when the source's version
 * is newer (written since the last run). The target's table must exist (`baton create-table`).
 * A typical switch: migrate while the app still uses the old store, deploy the app on the new one,
 * migrate again at once to pick up the sessions written during the rollout (docs/cli.md).
 */
import type { Command } from 'commander';
import { can, storesWith } from '../../core/capabilities.js';
import { isBatonError } from '../../core/errors.js';
import { isLegacyUrl } from '../../legacy/url.js';
import type { Store } from '../../stores/store.js';
import { redactUrl } from '../../stores/url.js';
import {
  jsonOption,
  messageOf,
  openStore,
  type Progress,
  positiveInt,
  positiveNumber,
  printJson,
  progressBar,
  progressOption,
  ReportedFailure,
  UsageError,
} from '../common.js';
import { runLegacyMigrate } from './migrate-legacy.js';

interface MigrateOptions {
  rate?: number;
  keyPrefix?: string;
  userKey?: string;
  lifetime?: number;
  absoluteLifetime?: number;
  from?: string;
  to?: string;
  dryRun?: boolean;
  concurrency: number;
  progress?: boolean;
  json?: boolean;
}

export interface MigrateSummary {
  /** Live sessions the source listed. */
  found: number;
  /** Written to the target as new sessions. */
  copied: number;
  /** Replaced at the target because the source's version was newer. */
  updated: number;
  /** Already at the target with the same or a newer version. */
  skipped: number;
  /** Gone (expired or destroyed) at the source between listing and reading. */
  gone: number;
  failed: number;
  dryRun: boolean;
  errors: { key: string; error: string }[];
}

type Outcome = 'copied' | 'updated' | 'skipped' | 'gone';

/** Copies one session; the decision is the same in a dry run, only the writes are left out. */
async function copyOne(from: Store, to: Store, key: string, dryRun: boolean): Promise<Outcome> {
  const session = await from.get(key);
  if (session === null) return 'gone';
  const existing = await to.get(key);
  if (existing !== null && existing.version >= session.version) return 'skipped';
  if (dryRun) return existing === null ? 'copied' : 'updated';
  if (existing !== null) {
    // The target holds an older copy (an earlier run); replace it whole, version included.
    await to.destroy(key);
  }
  try {
    await to.create(key, session);
  } catch (err) {
    // Written at the target in between (an app instance already using it): keep that one.
    if (isBatonError(err) && err.code === 'BATON_SESSION_EXISTS') return 'skipped';
    throw err;
  }
  return existing === null ? 'copied' : 'updated';
}

export async function migrateSessions(
  from: Store,
  to: Store,
  options: {
    dryRun: boolean;
    concurrency: number;
    onProgress?: (done: number, total: number, s: MigrateSummary) => void;
  },
): Promise<MigrateSummary> {
  if (!can(from, 'scan')) {
    throw new Error(
      `the ${from.name} store cannot list sessions (no scan), so it cannot be a migration source; ${storesWith('scan')}`,
    );
  }
  const keys: string[] = [];
  for await (const s of from.scan!()) keys.push(s.key);
  const summary: MigrateSummary = {
    found: keys.length,
    copied: 0,
    updated: 0,
    skipped: 0,
    gone: 0,
    failed: 0,
    dryRun: options.dryRun,
    errors: [],
  };
  let next = 0;
  let done = 0;
  options.onProgress?.(0, keys.length, summary);
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      try {
        summary[await copyOne(from, to, key, options.dryRun)] += 1;
      } catch (err) {
        summary.failed += 1;
        if (summary.errors.length < 20) summary.errors.push({ key, error: messageOf(err) });
      }
      done += 1;
      options.onProgress?.(done, keys.length, summary);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, Math.max(keys.length, 1)) }, worker));
  return summary;
}

export function migrate(program: Command): void {
  program
    .command('migrate')
    .description('copy live sessions between two stores, keeping expiry and version; safe to run twice')
    .option('--from <url>', 'store URL to copy from')
    .option('--to <url>', 'store URL to copy to (its table must exist: baton create-table)')
    .option('--dry-run', 'read both stores and report what would be copied, write nothing')
    .option('-c, --concurrency <n>', 'sessions copied at the same time', positiveInt('--concurrency'), 8)
    .option(
      '--rate <n>',
      'express-session sources: most sessions per second [100 when DynamoDB is involved]',
      positiveNumber('--rate'),
    )
    .option('--key-prefix <prefix>', "express-session sources: the app's keyPrefix", '')
    .option('--user-key <key>', "express-session sources: the app's userKey (passport.user for Passport)")
    .option(
      '--lifetime <s>',
      "express-session sources: the app's lifetime in seconds",
      positiveNumber('--lifetime'),
    )
    .option(
      '--absolute-lifetime <s>',
      "express-session sources: the app's absoluteLifetime in seconds",
      positiveNumber('--absolute-lifetime'),
    )
    .addOption(progressOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
From an express-session store (connect-redis://, connect-dynamodb://, dynamodb-store://,
connect-pg-simple://, express-mysql-session://), every live session is copied in the form the
\`legacy\` option adopts, so the first request after the switch reads only baton's store; a session
adopted already is skipped, so runs can be repeated or resumed (docs/migrating.md).

Each session keeps its key, data, user, expiry and version. A key the target has already is
skipped, or replaced when the source's version is newer, so running it twice is safe.
Exit code 1 when any session failed to copy.

Examples:
  $ baton migrate --from redis://127.0.0.1:6379/0 --to 'dynamodb://sessions?region=eu-west-1' --dry-run
  $ baton migrate --from redis://127.0.0.1:6379/0 --to 'dynamodb://sessions?region=eu-west-1'
  $ baton migrate --from file:///var/lib/sessions --to 'postgres://app@db/app?table=sessions' --json`,
    )
    .action(async (options: MigrateOptions) => {
      if (options.from !== undefined && isLegacyUrl(options.from)) {
        return runLegacyMigrate({ ...options, from: options.from });
      }
      if (options.from !== undefined && options.from === options.to) {
        throw new UsageError(`--from and --to are the same store (${redactUrl(options.from)})`);
      }
      const from = await openStore(options.from, '--from');
      let to: Store;
      try {
        to = await openStore(options.to, '--to');
      } catch (err) {
        await from.close();
        throw err;
      }
      const dryRun = options.dryRun === true;
      // The bar starts once the source is listed and the total known.
      let bar: Progress | undefined;
      let summary: MigrateSummary;
      try {
        summary = await migrateSessions(from, to, {
          dryRun,
          concurrency: options.concurrency,
          onProgress(done, total, s) {
            bar ??= progressBar({
              force: options.progress,
              total,
              format: `migrate${dryRun ? ' (dry run)' : ''} |{bar}| {value}/{total} | copied {copied} updated {updated} skipped {skipped} failed {failed} | eta {eta}s`,
              payload: { copied: 0, updated: 0, skipped: 0, failed: 0 },
            });
            bar.update(done, { copied: s.copied, updated: s.updated, skipped: s.skipped, failed: s.failed });
          },
        });
      } finally {
        bar?.stop();
        await Promise.allSettled([from.close(), to.close()]);
      }
      if (options.json === true) {
        printJson(summary);
      } else {
        const verb = dryRun ? 'would copy' : 'copied';
        process.stdout.write(
          `${verb} ${summary.copied}, ${dryRun ? 'would update' : 'updated'} ${summary.updated}, skipped ${summary.skipped} ` +
            `(already there), gone ${summary.gone}, failed ${summary.failed} of ${summary.found} live sessions\n`,
        );
        for (const e of summary.errors) process.stderr.write(`  failed ${e.key}: ${e.error}\n`);
      }
      if (summary.failed > 0) throw new ReportedFailure(`${summary.failed} sessions failed`);
    });
}
