/**
 * `baton ls`: lists live sessions (key, user, expiry, version, size), never their data.
 *
 * Usage:
 *   baton ls --store URL [--user ID] [--limit N] [--json]
 *
 * Examples:
 *   baton ls --store 'dynamodb://sessions?region=eu-west-1' --limit 20
 *   baton ls --user u-42 --json          # one user's sessions, with BATON_STORE set
 *
 * `--user` reads the store's user index (`listByUser`); without it the store is scanned, stopping
 * after `--limit` sessions. Use `baton show KEY` to see one session's data.
 */
import type { Command } from 'commander';
import { can, storesWith } from '../../core/capabilities.js';
import type { SessionSummary } from '../../stores/store.js';
import {
  formatBytes,
  formatTime,
  jsonOption,
  positiveInt,
  printJson,
  printTable,
  storeOption,
  withStore,
} from '../common.js';

interface LsOptions {
  store?: string;
  user?: string;
  limit: number;
  json?: boolean;
}

export function ls(program: Command): void {
  program
    .command('ls')
    .description('list live sessions: key, user, expiry, version, size (never their data)')
    .addOption(storeOption())
    .option('-u, --user <id>', "only this user's sessions (the store's user index)")
    .option('-n, --limit <n>', 'list at most this many', positiveInt('--limit'), 100)
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  $ baton ls --store 'dynamodb://sessions?region=eu-west-1' --limit 20
  $ baton ls --store redis://127.0.0.1:6379/0 --user u-42
  $ BATON_STORE=file:///var/lib/sessions baton ls --json`,
    )
    .action(async (options: LsOptions) => {
      await withStore(options.store, async (store) => {
        const sessions: SessionSummary[] = [];
        if (options.user !== undefined) {
          if (!can(store, 'userIndex')) {
            throw new Error(`the ${store.name} store keeps no user index, so --user cannot be answered`);
          }
          sessions.push(...(await store.listByUser!(options.user)).slice(0, options.limit));
        } else {
          if (!can(store, 'scan')) {
            throw new Error(
              `the ${store.name} store cannot list sessions (no scan); use --user, or ${storesWith('scan')}`,
            );
          }
          for await (const s of store.scan!({ limit: options.limit })) {
            sessions.push(s);
            if (sessions.length >= options.limit) break;
          }
        }
        sessions.sort((a, b) => a.expiresAt - b.expiresAt);
        if (options.json === true) {
          printJson(sessions);
          return;
        }
        if (sessions.length === 0) {
          process.stdout.write('no live sessions\n');
          return;
        }
        const now = Date.now();
        printTable(
          ['KEY', 'USER', 'EXPIRES', 'VERSION', 'SIZE'],
          sessions.map((s) => [
            s.key,
            s.userId ?? '-',
            formatTime(s.expiresAt, now),
            String(s.version),
            formatBytes(s.size),
          ]),
        );
        if (sessions.length >= options.limit) {
          process.stderr.write(`(stopped at --limit ${options.limit}; raise it to see more)\n`);
        }
      });
    });
}
