/**
 * `baton create-table`: creates the store's table when missing (DynamoDB: partition key `id`, TTL
 * on `expires`, the user index; SQL: the table and its indexes), waits until it is ready, and
 * says what it found. Idempotent: run it on every deploy.
 *
 * Usage:
 *   baton create-table --store URL [--billing on-demand|provisioned --read N --write N] [--no-user-index] [--json]
 *
 * Examples:
 *   baton create-table --store 'dynamodb://sessions?region=eu-west-1'
 *   baton create-table --store 'dynamodb://sessions?region=eu-west-1' --billing provisioned --read 5 --write 5
 *   baton create-table --store 'postgres://app@127.0.0.1/app?table=sessions'
 *
 * Billing and the user index apply when the table is created; an existing table is left as it is
 * (apart from turning TTL on and adding a missing user index).
 */
import { type Command, Option } from 'commander';
import type { TableDescription } from '../../stores/dynamodb/index.js';
import { parseStoreUrl } from '../../stores/url.js';
import {
  hasDescribe,
  hasEnsureTable,
  jsonOption,
  positiveInt,
  printJson,
  storeOption,
  UsageError,
  withStore,
} from '../common.js';

interface CreateTableOptions {
  store?: string;
  billing: 'on-demand' | 'provisioned';
  read?: number;
  write?: number;
  userIndex: boolean;
  json?: boolean;
}

function billingOf(options: CreateTableOptions): Record<string, unknown> {
  if (options.billing === 'provisioned') {
    if (options.read === undefined || options.write === undefined) {
      throw new UsageError('--billing provisioned needs --read N and --write N (capacity units per second)');
    }
    return { mode: 'provisioned', read: options.read, write: options.write };
  }
  if (options.read !== undefined || options.write !== undefined) {
    throw new UsageError(
      '--read and --write go with --billing provisioned (on-demand tables have no fixed capacity)',
    );
  }
  return { mode: 'on-demand' };
}

export function describeTable(d: TableDescription): string {
  const parts = [`table \`${d.tableName}\` ${d.status ?? 'ACTIVE'}`];
  if (d.hashKey) parts.push(`partition key ${d.hashKey.name} (${d.hashKey.type})`);
  if (d.billingMode === 'PAY_PER_REQUEST') parts.push('on-demand');
  else if (d.provisioned) parts.push(`provisioned ${d.provisioned.read} RCU / ${d.provisioned.write} WCU`);
  if (d.ttl) {
    parts.push(
      !d.ttl.supported
        ? 'TTL: not supported by this engine (use baton gc)'
        : d.ttl.matches
          ? `TTL ${d.ttl.status ?? 'ENABLED'} on ${d.ttl.attribute}`
          : `TTL ${d.ttl.status ?? 'off'}`,
    );
  }
  if (d.userIndex) parts.push(d.userIndex.present ? `user index ${d.userIndex.name}` : 'no user index');
  return parts.join(', ');
}

/** The table a SQL store URL names (`?table=`), or the stores' default. */
function sqlTableName(url: string): string {
  const parsed = parseStoreUrl(url);
  return ('tableName' in parsed ? parsed.tableName : undefined) ?? 'sessions';
}

function isTableDescription(value: unknown): value is TableDescription {
  return typeof value === 'object' && value !== null && 'tableName' in value && 'exists' in value;
}

export function createTable(program: Command): void {
  program
    .command('create-table')
    .description(
      'create the table (DynamoDB: TTL on `expires` + user index; SQL: table + indexes); idempotent',
    )
    .addOption(storeOption())
    .addOption(
      new Option('--billing <mode>', 'DynamoDB billing of a new table')
        .choices(['on-demand', 'provisioned'])
        .default('on-demand'),
    )
    .option('--read <n>', 'read capacity units (with --billing provisioned)', positiveInt('--read'))
    .option('--write <n>', 'write capacity units (with --billing provisioned)', positiveInt('--write'))
    .option('--no-user-index', 'DynamoDB: no index on the user id (no "log out everywhere", cheaper writes)')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  $ baton create-table --store 'dynamodb://sessions?region=eu-west-1'
  $ baton create-table --store 'dynamodb://sessions?region=eu-west-1' --billing provisioned --read 5 --write 5
  $ baton create-table --store 'postgres://app@127.0.0.1/app?table=sessions'`,
    )
    .action(async (options: CreateTableOptions) => {
      const billing = billingOf(options);
      const isDynamo = /^dynamodb:/i.test(options.store ?? '');
      const storeOptions = isDynamo ? { billing, userIndex: options.userIndex } : {};
      if (!isDynamo && (options.billing !== 'on-demand' || options.userIndex === false)) {
        throw new UsageError('--billing, --read, --write and --no-user-index apply to DynamoDB tables only');
      }
      await withStore(
        options.store,
        async (store) => {
          if (!hasEnsureTable(store)) {
            const note = `the ${store.name} store needs no table; nothing to do`;
            if (options.json === true) printJson({ store: store.name, created: false, note });
            else process.stdout.write(`${note}\n`);
            return;
          }
          // DynamoDB says whether the table was there; SQL stores just make sure it is.
          const before = hasDescribe(store) ? await store.describe() : undefined;
          const started = performance.now();
          const after = await store.ensureTable();
          const ms = Math.round(performance.now() - started);
          const created = before === undefined ? undefined : !before.exists;
          if (options.json === true) {
            printJson({
              store: store.name,
              ...(created === undefined ? {} : { created }),
              ms,
              ...(isTableDescription(after) ? { table: after } : {}),
            });
            return;
          }
          const verb = created === undefined ? 'ready' : created ? 'created' : 'already exists';
          process.stdout.write(
            isTableDescription(after)
              ? `${describeTable(after)} (${verb}, ${ms} ms)\n`
              : `${store.name}: table \`${sqlTableName(options.store ?? '')}\` ${verb} (${ms} ms)\n`,
          );
        },
        { storeOptions },
      );
    });
}
