/**
 * `baton revoke`: ends one session, or every session of a user ("log out everywhere").
 *
 * Usage:
 *   baton revoke KEY --store URL [--id] [--json]
 *   baton revoke --user ID --store URL [--json]
 *
 * Examples:
 *   baton revoke 3q2-7wXy...Q --store 'dynamodb://sessions?region=eu-west-1'
 *   baton revoke --user u-42                  # with BATON_STORE set
 *
 * Revoking a session that is already gone succeeds with `revoked: 0`.
 */
import type { Command } from 'commander';
import { can } from '../../core/capabilities.js';
import { jsonOption, printJson, storeOption, UsageError, withStore } from '../common.js';
import { storeKey } from './show.js';

interface RevokeOptions {
  store?: string;
  user?: string;
  id?: boolean;
  json?: boolean;
}

export function revoke(program: Command): void {
  program
    .command('revoke')
    .description('end one session (KEY) or every session of a user (--user): "log out everywhere"')
    .argument('[key]', 'the store key, as `baton ls` lists it')
    .addOption(storeOption())
    .option('-u, --user <id>', "revoke every session of this user (the store's user index)")
    .option('--id', 'KEY is a session id or signed cookie value; hash it to the store key (hashIds on)')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  $ baton revoke Zm9vYmFy... --store 'dynamodb://sessions?region=eu-west-1'
  $ baton revoke --user u-42 --json`,
    )
    .action(async (key: string | undefined, options: RevokeOptions) => {
      if ((key === undefined) === (options.user === undefined)) {
        throw new UsageError('give either a session KEY or --user ID (not both)');
      }
      await withStore(options.store, async (store) => {
        const keys: string[] = [];
        if (key !== undefined) {
          keys.push(storeKey(key, options.id));
        } else {
          if (!can(store, 'userIndex')) {
            throw new Error(`the ${store.name} store keeps no user index, so --user cannot be answered`);
          }
          keys.push(...(await store.listByUser!(options.user!)).map((s) => s.key));
        }
        let revoked = 0;
        for (const k of keys) {
          if (await store.destroy(k)) revoked += 1;
        }
        if (options.json === true) {
          printJson({ revoked, keys });
        } else if (revoked === 0) {
          process.stdout.write(
            key !== undefined
              ? `no live session under ${keys[0]}; nothing to revoke\n`
              : `user ${options.user} has no live sessions; nothing to revoke\n`,
          );
        } else {
          process.stdout.write(`revoked ${revoked} session${revoked === 1 ? '' : 's'}\n`);
        }
      });
    });
}
