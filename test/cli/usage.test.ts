/**
 * `baton` as a user meets it without a store: help, bad usage (one line on stderr, exit 2), the IAM
 * policy, and the commands on the memory store (which lives in the CLI process only).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { baton, json } from './run.js';

const COMMANDS = [
  'local',
  'create-table',
  'iam-policy',
  'doctor',
  'ls',
  'show',
  'revoke',
  'gc',
  'migrate',
  'stats',
];

/** Bad usage: exit 2, exactly one line on stderr that says `why`, nothing on stdout. */
async function badUsage(args: string[], why: RegExp, env: Record<string, string> = {}) {
  const r = await baton(args, env);
  assert.equal(r.code, 2, `exit code of baton ${args.join(' ')}; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^baton: /);
  assert.match(lines[0]!, why);
  assert.equal(r.stdout, '');
}

describe('baton: help', () => {
  it('lists every command and exits 0', async () => {
    const r = await baton(['--help']);
    assert.equal(r.code, 0);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c} `, 'm'), c);
  });

  it('every command has --help with examples', async () => {
    const results = await Promise.all(COMMANDS.map((c) => baton([c, '--help'])));
    results.forEach((r, i) => {
      assert.equal(r.code, 0, COMMANDS[i]);
      assert.match(r.stdout, new RegExp(`Usage: baton ${COMMANDS[i]}`), COMMANDS[i]);
      assert.match(r.stdout, /Examples:\n {2}\$ baton /, `${COMMANDS[i]} shows examples`);
    });
  });

  it('says once where --store comes from when it is not given', async () => {
    const r = await baton(['ls', '--help']);
    assert.equal(r.code, 0);
    const help = r.stdout.replace(/\s+/g, ' ');
    assert.equal(help.match(/\(env: BATON_STORE\)/g)?.length, 1, r.stdout);
    assert.doesNotMatch(help, /default: \$BATON_STORE/);
  });

  it('--version prints the package version', async () => {
    const r = await baton(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+/);
  });

  it('no command at all is bad usage (help on stderr, exit 2)', async () => {
    const r = await baton([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Usage: baton/);
  });
});

describe('baton: bad usage exits 2 with a one-line reason', () => {
  it('unknown command', () => badUsage(['lss'], /unknown command 'lss'.*Did you mean ls\?/));
  it('unknown option', () => badUsage(['ls', '--store', 'memory:', '--colour'], /unknown option '--colour'/));
  it('bad option value', () =>
    badUsage(['ls', '--store', 'memory:', '--limit', 'ten'], /--limit must be a positive whole number/));
  it('no store URL', () => badUsage(['ls'], /--store <url> is required \(or set BATON_STORE\)/));
  it('unknown URL scheme, listing the supported ones', () =>
    badUsage(
      ['ls', '--store', 'mongodb://h/db'],
      /unsupported store URL scheme `mongodb:`.*dynamodb:.*redis:.*postgres:.*memory:/,
    ));
  it('bad URL from BATON_STORE', () =>
    badUsage(['stats'], /not a store URL; it looks like HOST:PORT: add the scheme/, {
      BATON_STORE: 'localhost:6379',
    }));
  it('a URL without a scheme', () =>
    badUsage(['stats', '--store', 'sessions'], /not a store URL; it must start with a scheme/));
  it('bad DynamoDB table name', () =>
    badUsage(['ls', '--store', 'dynamodb://a'], /not a DynamoDB table name/));
  it('unknown URL parameter', () =>
    badUsage(
      ['ls', '--store', 'dynamodb://sessions?regoin=eu-west-1'],
      /^baton: --store: \[dynamodb\] option `url`: unknown parameter `regoin` \(known: region, endpoint/,
    ));
  it('a password in a bad URL is not echoed', async () => {
    const r = await baton(['ls', '--store', 'redis://:hunter2@127.0.0.1:6379/0?bad=1']);
    assert.equal(r.code, 2);
    assert.doesNotMatch(r.stderr, /hunter2/);
    assert.match(r.stderr, /redis:\/\/:\*\*\*@127\.0\.0\.1/);
  });
  it('missing iam-policy table', () =>
    badUsage(
      ['iam-policy', '--region', 'eu-west-1', '--account', '123456789012'],
      /required option '-t, --table <name>'/,
    ));
  it('revoke with neither KEY nor --user', () =>
    badUsage(['revoke', '--store', 'memory:'], /either a session KEY or --user/));
  it('create-table: provisioned without capacities', () =>
    badUsage(
      ['create-table', '--store', 'dynamodb://sessions?region=eu-west-1', '--billing', 'provisioned'],
      /--billing provisioned needs --read N and --write N/,
    ));
  it('create-table: unknown billing mode', () =>
    badUsage(
      ['create-table', '--store', 'memory:', '--billing', 'free'],
      /Allowed choices are on-demand, provisioned/,
    ));
  it('migrate without --to', () => badUsage(['migrate', '--from', 'memory:'], /--to <url> is required/));
  it('local on a port that is not one', () =>
    badUsage(['local', '--port', '70000'], /--port must be a TCP port/));
});

describe('baton iam-policy', () => {
  const base = ['iam-policy', '--table', 'sessions', '--region', 'eu-west-1', '--account', '123456789012'];
  const arn = 'arn:aws:dynamodb:eu-west-1:123456789012:table/sessions';

  /** Each granted action with its resources, checking the document's shape on the way. */
  function grants(policy: {
    Version: string;
    Statement: { Effect: string; Action: string | string[]; Resource: string | string[] }[];
  }): Map<string, string[]> {
    assert.equal(policy.Version, '2012-10-17');
    const byAction = new Map<string, string[]>();
    for (const s of policy.Statement) {
      assert.equal(s.Effect, 'Allow');
      // The docs may write a single action or resource as a string, as IAM allows.
      for (const a of [s.Action].flat())
        byAction.set(a, [...(byAction.get(a) ?? []), ...[s.Resource].flat()]);
    }
    return byAction;
  }

  it('prints what the app needs when it calls ensureTable() at boot (the default, and --app)', async () => {
    const [bare, app] = await Promise.all([baton(base), baton([...base, '--app'])]);
    assert.equal(bare.code, 0, bare.stderr);
    assert.equal(app.stdout, bare.stdout);
    const byAction = grants(json(bare));
    assert.deepEqual([...byAction.keys()].sort(), [
      'dynamodb:DeleteItem',
      'dynamodb:DescribeTable',
      'dynamodb:DescribeTimeToLive',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    assert.deepEqual(byAction.get('dynamodb:GetItem'), [arn]);
    assert.deepEqual(byAction.get('dynamodb:DescribeTable'), [arn]);
    // The one index the store queries, not every index of the table.
    assert.deepEqual(byAction.get('dynamodb:Query'), [`${arn}/index/uid-index`]);
  });

  it('--app --no-setup leaves out the Describe calls; --user-index names another index', async () => {
    const r = await baton([...base, '--app', '--no-setup', '--user-index', 'by-user']);
    assert.equal(r.code, 0, r.stderr);
    const byAction = grants(json(r));
    assert.deepEqual([...byAction.keys()].sort(), [
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    assert.deepEqual(byAction.get('dynamodb:Query'), [`${arn}/index/by-user`]);
  });

  it('refuses --no-setup with --with-setup, and a malformed index name (exit 2)', async () => {
    await badUsage([...base, '--no-setup', '--with-setup'], /--no-setup .* --with-setup .*contradict/);
    await badUsage([...base, '--user-index', 'a*'], /--user-index: "a\*" is not a DynamoDB index name/);
  });

  it('agrees with docs/cli.md and docs/dynamodb.md, index ARN included', async () => {
    const r = await baton(base);
    assert.equal(r.code, 0, r.stderr);
    // docs/cli.md shows this very command's output.
    const cli = readFileSync('docs/cli.md', 'utf8');
    const shown =
      /\$ baton iam-policy --table sessions --region eu-west-1 --account 123456789012\n(\{[\s\S]*?\n\})\n```/.exec(
        cli,
      );
    assert.ok(shown, 'docs/cli.md shows no output of the app policy');
    assert.deepEqual(JSON.parse(shown[1] ?? ''), json(r));
    // docs/dynamodb.md writes it with placeholders: the same actions on the same resources.
    const dynamo = readFileSync('docs/dynamodb.md', 'utf8');
    const section = dynamo.slice(dynamo.indexOf('## Least-privilege IAM policy'));
    const block = /```json\n([\s\S]*?)\n```/.exec(section)?.[1] ?? '';
    const documented = grants(
      JSON.parse(block.replaceAll('REGION', 'eu-west-1').replaceAll('ACCOUNT', '123456789012')),
    );
    const printed = grants(json(r));
    assert.deepEqual(
      new Map([...documented].sort(([a], [b]) => a.localeCompare(b))),
      new Map([...printed].sort(([a], [b]) => a.localeCompare(b))),
    );
  });

  it('--with-admin adds Scan, BatchWriteItem and the Describe calls; no wildcard action anywhere', async () => {
    const r = await baton([...base, '--with-admin', '--with-setup']);
    assert.equal(r.code, 0, r.stderr);
    const actions: string[] = json(r).Statement.flatMap((s: { Action: string[] }) => s.Action);
    for (const a of [
      'dynamodb:Scan',
      'dynamodb:BatchWriteItem',
      'dynamodb:DescribeTable',
      'dynamodb:DescribeTimeToLive',
    ]) {
      assert.ok(actions.includes(a), a);
    }
    assert.ok(actions.includes('dynamodb:CreateTable'));
    for (const a of actions) assert.match(a, /^dynamodb:[A-Z][A-Za-z]+$/, `no wildcard in ${a}`);
    const resources: string[] = json(r).Statement.flatMap((s: { Resource: string[] }) => s.Resource);
    for (const res of resources) assert.ok(res === arn || res === `${arn}/index/uid-index`, res);
    // No action is granted twice on the same resource.
    assert.equal(new Set(actions).size, actions.length, actions.join(', '));
  });

  it('refuses a malformed account or region (exit 2)', async () => {
    await badUsage(
      ['iam-policy', '--table', 'sessions', '--region', 'eu-west-1', '--account', '1234'],
      /12-digit AWS account id/,
    );
    await badUsage(
      ['iam-policy', '--table', 'sessions', '--region', 'Europe', '--account', '123456789012'],
      /not an AWS region/,
    );
  });
});

describe('baton on the memory store', () => {
  it('doctor reports healthy with a round trip', async () => {
    const r = await baton(['doctor', '--store', 'memory:', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = json(r);
    assert.equal(report.healthy, true);
    assert.ok(
      report.findings.some(
        (f: { check: string; status: string }) => f.check === 'round trip' && f.status === 'ok',
      ),
    );
    assert.equal(typeof report.roundTrip.ms.total, 'number');
  });

  it('ls, stats and gc answer on an empty store', async () => {
    const env = { BATON_STORE: 'memory:' };
    const [lsOut, statsOut, gcOut] = await Promise.all([
      baton(['ls', '--json'], env),
      baton(['stats', '--json'], env),
      baton(['gc', '--json'], env),
    ]);
    assert.deepEqual(json(lsOut), []);
    assert.equal(json(statsOut).live, 0);
    assert.deepEqual([json(gcOut).deleted, json(gcOut).dryRun], [0, false]);
  });

  it('show of a missing key fails (exit 1) with one line', async () => {
    const r = await baton(['show', 'nope', '--store', 'memory:']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'baton: no live session under key "nope"\n');
  });

  it('a key that starts with - is bad usage with a hint, and goes through after --', async () => {
    const key = '-DXR6fQKV0WRo4fGgU-vMwFe8EfumsMuq9jl4D05pSA';
    const asOption = await baton(['show', '--store', 'memory:', key]);
    assert.equal(asOption.code, 2);
    assert.match(asOption.stderr, /goes after `--`/);
    const afterDashes = await baton(['show', '--store', 'memory:', '--', key]);
    assert.equal(afterDashes.code, 1, 'read as a key: not found, exit 1');
    assert.match(afterDashes.stderr, /no live session/);
  });

  it('create-table on a store without tables says so and succeeds', async () => {
    const r = await baton(['create-table', '--store', 'memory:']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /the memory store needs no table; nothing to do/);
  });
});
