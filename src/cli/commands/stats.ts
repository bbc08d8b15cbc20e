/**
 * `baton stats`: how many live sessions a store holds, how big they are, how many expire soon.
 *
 * Usage:
 *   baton stats --store URL [--json]
 *
 * Examples:
 *   baton stats --store 'dynamodb://sessions?region=eu-west-1'
 *   baton stats --json | jq .live
 *
 * It scans the whole store (on DynamoDB that costs read capacity: about one unit per 4 KB read,
 * halved for eventually consistent scans). Expired records the engine has not deleted yet are
 * counted apart: a high number there means `baton gc` should run.
 */
import type { Command } from 'commander';
import { can, storesWith } from '../../core/capabilities.js';
import {
  formatBytes,
  jsonOption,
  printJson,
  progressBar,
  progressOption,
  storeOption,
  withStore,
} from '../common.js';

interface StatsOptions {
  store?: string;
  json?: boolean;
  progress?: boolean;
}

export interface StoreStats {
  live: number;
  users: number;
  averageBytes: number;
  largestBytes: number;
  expiringWithinHour: number;
  expiredNotDeleted: number;
}

export function stats(program: Command): void {
  program
    .command('stats')
    .description('count live sessions, their average and largest size, and how many expire within the hour')
    .addOption(storeOption())
    .addOption(jsonOption())
    .addOption(progressOption())
    .addHelpText(
      'after',
      `
Examples:
  $ baton stats --store 'dynamodb://sessions?region=eu-west-1'
  $ baton stats --store redis://127.0.0.1:6379/0 --json`,
    )
    .action(async (options: StatsOptions) => {
      await withStore(options.store, async (store) => {
        if (!can(store, 'scan')) {
          throw new Error(
            `the ${store.name} store cannot list sessions (no scan), so it has no stats; ${storesWith('scan')}`,
          );
        }
        const now = Date.now();
        const hour = now + 3_600_000;
        const result: StoreStats = {
          live: 0,
          users: 0,
          averageBytes: 0,
          largestBytes: 0,
          expiringWithinHour: 0,
          expiredNotDeleted: 0,
        };
        const users = new Set<string>();
        let total = 0;
        const bar = progressBar({ force: options.progress, total: 0, format: 'scanning {value} sessions' });
        let seen = 0;
        try {
          for await (const s of store.scan!({ includeExpired: true })) {
            seen += 1;
            if (seen % 100 === 0) bar.update(seen);
            if (s.expiresAt <= now || s.absoluteExpiresAt <= now) {
              result.expiredNotDeleted += 1;
              continue;
            }
            result.live += 1;
            total += s.size;
            result.largestBytes = Math.max(result.largestBytes, s.size);
            if (s.expiresAt <= hour) result.expiringWithinHour += 1;
            if (s.userId !== undefined) users.add(s.userId);
          }
          bar.update(seen);
        } finally {
          bar.stop();
        }
        result.users = users.size;
        result.averageBytes = result.live === 0 ? 0 : Math.round(total / result.live);
        if (options.json === true) {
          printJson(result);
          return;
        }
        process.stdout.write(
          [
            `live sessions:         ${result.live}`,
            `users with sessions:   ${result.users}`,
            `average size:          ${formatBytes(result.averageBytes)}`,
            `largest size:          ${formatBytes(result.largestBytes)}`,
            `expiring within 1 h:   ${result.expiringWithinHour}`,
            `expired, not deleted:  ${result.expiredNotDeleted}${result.expiredNotDeleted > 0 ? '  (run `baton gc`)' : ''}`,
            '',
          ].join('\n'),
        );
      });
    });
}
