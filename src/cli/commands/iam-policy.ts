/**
 * `baton iam-policy`: prints the least-privilege IAM policy for a DynamoDB session table.
 *
 * Usage:
 *   baton iam-policy --table NAME --region R --account ID [--app] [--no-setup] [--user-index NAME]
 *                    [--with-admin] [--with-setup] [--partition aws]
 *
 * Examples:
 *   baton iam-policy --table sessions --region eu-west-1 --account 123456789012 > app-policy.json
 *   baton iam-policy --table sessions --region eu-west-1 --account 123456789012 --app --no-setup
 *   baton iam-policy --table sessions --region eu-west-1 --account 123456789012 --with-admin
 *
 * The app (`--app`, the default) needs GetItem, PutItem, UpdateItem and DeleteItem on the table,
 * Query on the user index (behind "log out everywhere"), and DescribeTable and DescribeTimeToLive
 * for `ensureTable()` at boot; `--no-setup` leaves those two out, for an app that does not call it
 * (the table made by `baton create-table` from a deploy pipeline). `--with-admin` adds what
 * `baton gc`, `ls`, `stats`, `doctor` and `migrate` also use (Scan, BatchWriteItem, the Describe
 * calls); `--with-setup` adds what `baton create-table` uses. Never `dynamodb:*`.
 */
import type { Command } from 'commander';
import { UsageError } from '../common.js';

interface IamPolicyOptions {
  table: string;
  region: string;
  account: string;
  partition: string;
  /**
   * The app calls `ensureTable()` at boot (DescribeTable, DescribeTimeToLive on a ready table).
   * @default true
   */
  setup?: boolean;
  /**
   * The user index that "log out everywhere" queries (the store's `userIndexName`).
   * @default 'uid-index'
   */
  userIndex?: string;
  withAdmin?: boolean;
  withSetup?: boolean;
}

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** The policy document for `options` (no wildcard actions; resources limited to the table and its indexes). */
export function sessionTablePolicy(options: IamPolicyOptions): PolicyDocument {
  // DynamoDB table names: 3-255 of A-Z a-z 0-9 _ - .
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(options.table)) {
    throw new UsageError(
      `--table: ${JSON.stringify(options.table)} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)`,
    );
  }
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(options.region)) {
    throw new UsageError(
      `--region: ${JSON.stringify(options.region)} is not an AWS region such as eu-west-1`,
    );
  }
  if (!/^\d{12}$/.test(options.account)) {
    throw new UsageError(`--account: ${JSON.stringify(options.account)} is not a 12-digit AWS account id`);
  }
  if (!/^aws(-[a-z]+)*$/.test(options.partition)) {
    throw new UsageError(
      `--partition: ${JSON.stringify(options.partition)} is not an AWS partition (aws, aws-cn, aws-us-gov)`,
    );
  }
  const userIndex = options.userIndex ?? 'uid-index';
  // DynamoDB index names: 3-255 of A-Z a-z 0-9 _ - .
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(userIndex)) {
    throw new UsageError(
      `--user-index: ${JSON.stringify(userIndex)} is not a DynamoDB index name (3-255 of A-Z a-z 0-9 _ - .)`,
    );
  }
  const setup = options.setup ?? true;
  if (!setup && options.withSetup === true) {
    throw new UsageError(
      '--no-setup (the app leaves the table alone) and --with-setup (the role creates it) contradict each other: pass one',
    );
  }
  const table = `arn:${options.partition}:dynamodb:${options.region}:${options.account}:table/${options.table}`;
  const statements: PolicyStatement[] = [
    {
      Sid: 'BatonSessionsReadWrite',
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      Resource: [table],
    },
    {
      Sid: 'BatonSessionsUserIndex',
      Effect: 'Allow',
      Action: ['dynamodb:Query'],
      Resource: [`${table}/index/${userIndex}`],
    },
  ];
  if (setup) {
    // ensureTable() on a table that is ready: one DescribeTable, one DescribeTimeToLive.
    statements.push({
      Sid: 'BatonSessionsBootCheck',
      Effect: 'Allow',
      Action: ['dynamodb:DescribeTable', 'dynamodb:DescribeTimeToLive'],
      Resource: [table],
    });
  }
  if (options.withAdmin === true) {
    statements.push({
      Sid: 'BatonSessionsAdmin',
      Effect: 'Allow',
      Action: [
        'dynamodb:Scan',
        'dynamodb:BatchWriteItem',
        'dynamodb:DescribeTable',
        'dynamodb:DescribeTimeToLive',
      ],
      Resource: [table],
    });
  }
  if (options.withSetup === true) {
    statements.push({
      Sid: 'BatonSessionsSetup',
      Effect: 'Allow',
      Action: [
        'dynamodb:CreateTable',
        'dynamodb:DescribeTable',
        'dynamodb:UpdateTimeToLive',
        'dynamodb:DescribeTimeToLive',
        'dynamodb:UpdateTable',
      ],
      Resource: [table],
    });
  }
  return { Version: '2012-10-17', Statement: withoutRepeats(statements) };
}

/** Drops actions an earlier statement already grants on the same resources, and statements left empty. */
function withoutRepeats(statements: PolicyStatement[]): PolicyStatement[] {
  const granted = new Set<string>();
  const out: PolicyStatement[] = [];
  for (const statement of statements) {
    const where = statement.Resource.join(' ');
    const Action = statement.Action.filter((action) => !granted.has(`${action} ${where}`));
    for (const action of Action) granted.add(`${action} ${where}`);
    if (Action.length > 0) out.push({ ...statement, Action });
  }
  return out;
}

export function iamPolicy(program: Command): void {
  program
    .command('iam-policy')
    .description('print the least-privilege IAM policy (JSON) for a DynamoDB session table')
    .requiredOption('-t, --table <name>', 'DynamoDB table name')
    .requiredOption('-r, --region <region>', 'AWS region of the table, e.g. eu-west-1')
    .requiredOption('-a, --account <id>', '12-digit AWS account id that owns the table')
    .option('--app', "the app's role (the default): items, the user index, and ensureTable() at boot")
    .option('--no-setup', 'the app does not call ensureTable() at boot: no DescribeTable, DescribeTimeToLive')
    .option('--user-index <name>', "the user index the app queries (the store's userIndexName)", 'uid-index')
    .option('--partition <name>', 'AWS partition (aws, aws-cn, aws-us-gov)', 'aws')
    .option(
      '--with-admin',
      'also allow what gc, ls, stats, doctor and migrate need (Scan, BatchWriteItem, Describe*)',
    )
    .option('--with-setup', 'also allow what create-table needs (CreateTable, UpdateTimeToLive, ...)')
    .addHelpText(
      'after',
      `
The output is always JSON (an IAM policy document); attach it to the app's role. The app's policy
includes DescribeTable and DescribeTimeToLive for ensureTable() at boot (as the README's quick start
does); with --no-setup it does not, for an app whose table is made by \`baton create-table\` from a
deploy pipeline.

Examples:
  $ baton iam-policy --table sessions --region eu-west-1 --account 123456789012
  $ baton iam-policy --table sessions --region eu-west-1 --account 123456789012 --app --no-setup
  $ baton iam-policy --table sessions --region eu-west-1 --account 123456789012 --with-admin > admin.json
  $ aws iam put-role-policy --role-name app --policy-name sessions \\
      --policy-document "$(baton iam-policy --table sessions --region eu-west-1 --account 123456789012)"`,
    )
    .action((options: IamPolicyOptions) => {
      process.stdout.write(`${JSON.stringify(sessionTablePolicy(options), null, 2)}\n`);
    });
}
