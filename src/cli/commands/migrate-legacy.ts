/**
 * `baton migrate --from <legacy url> --to <store url>`: copies every live express-session session
 * of a peer store into the baton store in adoption-ready form (src/legacy/migrate.ts), so users'
 * first requests after the switch need no read of the old store. Resumable and idempotent: a
 * session adopted already (by an earlier run or a request) is skipped.
 *
 *   baton migrate --from 'connect-redis://127.0.0.1:6379/0?prefix=sess:' --to 'dynamodb://sessions?region=eu-west-1' --dry-run
 *   baton migrate --from 'connect-dynamodb://sessions?region=eu-west-1' --to 'dynamodb://baton-sessions?region=eu-west-1' --rate 50
 */

import { type LegacyMigrateSummary, migrateLegacy } from '../../legacy/migrate.js';
import { openLegacySource } from '../../legacy/url.js';
import type { Store } from '../../stores/store.js';
import { isConfigError } from '../../stores/url.js';
import {
  messageOf,
  openStore,
  type Progress,
  printJson,
  progressBar,
  ReportedFailure,
  UsageError,
} from '../common.js';

export interface LegacyMigrateCliOptions {
  from: string;
  to?: string;
  dryRun?: boolean;
  concurrency: number;
  progress?: boolean;
  json?: boolean;
  rate?: number;
  keyPrefix?: string;
  userKey?: string;
  lifetime?: number;
  absoluteLifetime?: number;
}

/** Sessions per second when either side is DynamoDB and no `--rate` is given. */
const DYNAMODB_DEFAULT_RATE = 100;

export async function runLegacyMigrate(options: LegacyMigrateCliOptions): Promise<void> {
  let opened: Awaited<ReturnType<typeof openLegacySource>>;
  try {
    opened = await openLegacySource(options.from);
  } catch (err) {
    if (isConfigError(err))
      throw new UsageError(`--from: ${messageOf(err).replace(/^option `from`: /, '')}`, { cause: err });
    throw err;
  }
  let to: Store;
  try {
    to = await openStore(options.to, '--to');
  } catch (err) {
    await opened.close();
    throw err;
  }
  const dryRun = options.dryRun === true;
  const rate =
    options.rate ?? (opened.dynamodb || to.name === 'dynamodb' ? DYNAMODB_DEFAULT_RATE : undefined);
  let bar: Progress | undefined;
  let summary: LegacyMigrateSummary;
  try {
    summary = await migrateLegacy(opened.source, to, {
      dryRun,
      concurrency: options.concurrency,
      ...(rate === undefined ? {} : { rate }),
      ...(options.keyPrefix === undefined ? {} : { keyPrefix: options.keyPrefix }),
      ...(options.userKey === undefined ? {} : { userKey: options.userKey }),
      ...(options.lifetime === undefined ? {} : { lifetime: options.lifetime }),
      ...(options.absoluteLifetime === undefined ? {} : { absoluteLifetime: options.absoluteLifetime }),
      onProgress(done, total, s) {
        bar ??= progressBar({
          force: options.progress,
          total,
          format: `migrate ${opened.source.name}${dryRun ? ' (dry run)' : ''} |{bar}| {value}/{total} | copied {copied} skipped {skipped} failed {failed} | eta {eta}s`,
          payload: { copied: 0, skipped: 0, failed: 0 },
        });
        bar.update(done, { copied: s.copied, skipped: s.skipped, failed: s.failed });
      },
    });
  } finally {
    bar?.stop();
    await Promise.allSettled([opened.close(), to.close()]);
  }
  if (options.json === true) printJson(summary);
  else {
    process.stdout.write(
      `${dryRun ? 'would copy' : 'copied'} ${summary.copied}, skipped ${summary.skipped} (adopted already), ` +
        `gone ${summary.gone}, failed ${summary.failed} of ${summary.found} ${opened.source.name} sessions\n`,
    );
    for (const e of summary.errors) process.stderr.write(`  failed: ${e}\n`);
  }
  if (summary.failed > 0) throw new ReportedFailure(`${summary.failed} sessions failed`);
}
