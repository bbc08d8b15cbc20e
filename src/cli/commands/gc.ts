/**
 * `baton gc`: deletes expired sessions the engine has not deleted itself, with a progress bar and a
 * rate limit.
 *
 * Usage:
 *   baton gc --store URL [--rate N] [--dry-run] [--progress] [--json]
 *
 * Examples:
 *   baton gc --store 'dynamodb://sessions?region=eu-west-1' --dry-run   # count only, delete nothing
 *   baton gc --store 'dynamodb://sessions?region=eu-west-1' --rate 100  # at most 100 capacity units/s
 *   baton gc --store file:///var/lib/sessions --json                    # from cron: JSON summary
 *
 * `--rate` is capacity units per second on DynamoDB and deletions per second elsewhere. DynamoDB's
 * own TTL deletes lazily (within days) and DynamoDB Local/dynalite not at all; reads never return an
 * expired session either way, so gc only reclaims space. Redis and Memcached expire by themselves.
 */
import type { Command } from 'commander';
import { can } from '../../core/capabilities.js';
import type { GcProgress } from '../../stores/store.js';
import {
  jsonOption,
  positiveNumber,
  printJson,
  progressBar,
  progressOption,
  storeOption,
  withStore,
} from '../common.js';

interface GcCommandOptions {
  store?: string;
  rate?: number;
  dryRun?: boolean;
  progress?: boolean;
  json?: boolean;
}

export function gc(program: Command): void {
  program
    .command('gc')
    .description('delete expired sessions (rate-limited, with a progress bar); --dry-run only counts')
    .addOption(storeOption())
    .option(
      '--rate <n>',
      'most capacity units (DynamoDB) or deletions (others) per second',
      positiveNumber('--rate'),
    )
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .addOption(progressOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Expired sessions are never served; gc reclaims their space where the engine does not expire
them itself (DynamoDB's TTL is lazy and local engines have none; SQL and file stores have none).

Examples:
  $ baton gc --store 'dynamodb://sessions?region=eu-west-1' --dry-run
  $ baton gc --store 'dynamodb://sessions?region=eu-west-1' --rate 100
  $ baton gc --store file:///var/lib/sessions --json`,
    )
    .action(async (options: GcCommandOptions) => {
      await withStore(options.store, async (store) => {
        const dryRun = options.dryRun === true;
        if (!can(store, 'gc')) {
          const result = {
            scanned: 0,
            deleted: 0,
            dryRun,
            note: `the ${store.name} store expires sessions by itself`,
          };
          if (options.json === true) printJson(result);
          else process.stdout.write(`nothing to do: ${result.note}\n`);
          return;
        }
        const started = performance.now();
        const bar = progressBar({
          force: options.progress,
          total: 1,
          format: `gc${dryRun ? ' (dry run)' : ''} | scanned {scanned} | ${dryRun ? 'expired' : 'deleted'} {deleted} | {cu} capacity units | {elapsed}s`,
          payload: { scanned: 0, deleted: 0, cu: 0, elapsed: '0.0' },
        });
        let result: { deleted: number; scanned: number };
        let capacityUnits: number | undefined;
        try {
          result = await store.gc!({
            dryRun,
            ...(options.rate === undefined ? {} : { rate: options.rate }),
            onProgress(p: GcProgress) {
              capacityUnits = p.capacityUnits;
              bar.update(0, {
                scanned: p.scanned,
                deleted: p.deleted,
                cu: p.capacityUnits === undefined ? '-' : Math.round(p.capacityUnits * 10) / 10,
                elapsed: ((performance.now() - started) / 1000).toFixed(1),
              });
            },
          });
        } finally {
          bar.stop();
        }
        const seconds = Math.round(performance.now() - started) / 1000;
        const summary = {
          scanned: result.scanned,
          deleted: result.deleted,
          dryRun,
          seconds,
          ...(capacityUnits === undefined ? {} : { capacityUnits }),
        };
        if (options.json === true) {
          printJson(summary);
        } else {
          process.stdout.write(
            `${dryRun ? 'would delete' : 'deleted'} ${result.deleted} expired session${result.deleted === 1 ? '' : 's'} ` +
              `(scanned ${result.scanned}${capacityUnits === undefined ? '' : `, ${Math.round(capacityUnits * 10) / 10} capacity units`}) in ${seconds} s\n`,
          );
        }
      });
    });
}
