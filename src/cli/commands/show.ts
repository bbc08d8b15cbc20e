/**
 * `baton show`: prints one session, data included (explicitly asked for, unlike `ls`).
 *
 * Usage:
 *   baton show KEY --store URL [--id] [--json]
 *
 * Examples:
 *   baton show 3q2-7wXy...Q --store 'dynamodb://sessions?region=eu-west-1'
 *   baton show "$COOKIE_VALUE" --id --json     # KEY is a session id or `sid` cookie value
 *
 * KEY is the store key (what `baton ls` lists). With `--id`, KEY is a session id (or the signed
 * cookie value `id.signature`) and is hashed as the middleware does with `hashIds` on.
 */
import type { Command } from 'commander';
import { hashId } from '../../core/ids.js';
import type { StoredSession } from '../../stores/store.js';
import {
  formatBytes,
  formatTime,
  jsonOption,
  printJson,
  ReportedFailure,
  storeOption,
  withStore,
} from '../common.js';

interface ShowOptions {
  store?: string;
  id?: boolean;
  json?: boolean;
}

/** The store key for KEY, or for a session id / cookie value with `--id`. */
export function storeKey(key: string, isId: boolean | undefined): string {
  if (isId !== true) return key;
  const id = decodeURIComponent(key).replace(/^s:/, '').split('.')[0] ?? '';
  return hashId(id);
}

function decodeData(data: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, text] of Object.entries(data)) {
    try {
      out[k] = JSON.parse(text);
    } catch {
      out[k] = { unreadableJson: text };
    }
  }
  return out;
}

export function sessionView(key: string, s: StoredSession): Record<string, unknown> {
  const size = Object.entries(s.data).reduce(
    (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v),
    0,
  );
  return {
    key,
    ...(s.userId === undefined ? {} : { userId: s.userId }),
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
    absoluteExpiresAt: s.absoluteExpiresAt,
    version: s.version,
    size,
    data: decodeData(s.data),
  };
}

export function show(program: Command): void {
  program
    .command('show')
    .description("print one session's data (by store key, or by session id with --id)")
    .argument('<key>', 'the store key, as `baton ls` lists it')
    .addOption(storeOption())
    .option('--id', 'KEY is a session id or signed cookie value; hash it to the store key (hashIds on)')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  $ baton show Zm9vYmFy... --store 'dynamodb://sessions?region=eu-west-1'
  $ baton show "$SID_COOKIE" --id --json`,
    )
    .action(async (key: string, options: ShowOptions) => {
      await withStore(options.store, async (store) => {
        const storeKeyValue = storeKey(key, options.id);
        const session = await store.get(storeKeyValue);
        if (session === null) {
          process.stderr.write(`baton: no live session under key ${JSON.stringify(storeKeyValue)}\n`);
          throw new ReportedFailure('not found');
        }
        const view = sessionView(storeKeyValue, session);
        if (options.json === true) {
          printJson(view);
          return;
        }
        const now = Date.now();
        process.stdout.write(
          [
            `key:      ${storeKeyValue}`,
            `user:     ${session.userId ?? '-'}`,
            `created:  ${formatTime(session.createdAt, now)}`,
            `expires:  ${formatTime(session.expiresAt, now)}`,
            `absolute: ${formatTime(session.absoluteExpiresAt, now)}`,
            `version:  ${session.version}`,
            `size:     ${formatBytes(view.size as number)}`,
            `data:     ${JSON.stringify(view.data, null, 2).replace(/\n/g, '\n          ')}`,
            '',
          ].join('\n'),
        );
      });
    });
}
