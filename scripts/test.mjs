#!/usr/bin/env node
// Runs every test file under test/ with Node's test runner (TypeScript through tsx), then the
// DynamoDB test files a second time on Amazon's DynamoDB Local, and prints the counts per engine.
// Usage: node scripts/test.mjs [--list] [path-filter ...]   (--list: print the files, DynamoDB ones marked)
//
// A DynamoDB test file is one that imports test/helpers/dynamodb.ts (directly or through another
// helper). The first pass runs them on the engine BATON_DYNAMODB_ENGINE names (dynalite by
// default); when that variable is unset, the second pass runs them on DynamoDB Local (Java 17+),
// one engine per test process. Without Java the second pass is skipped with a notice, or fails the
// run under BATON_REQUIRE_SERVICES=1.
// BATON_DYNAMODB_SECOND_PASS=0 leaves the second pass out.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (/\.test\.ts$/.test(name)) out.push(path);
  }
  return out;
}

const HELPER = resolve('test/helpers/dynamodb.ts');
const reaches = new Map();
/** Whether `file` imports the DynamoDB helper, directly or through its own relative imports. */
function usesDynamoDB(file, seen = new Set()) {
  const path = resolve(file);
  if (path === HELPER) return true;
  if (reaches.has(path)) return reaches.get(path);
  if (seen.has(path) || !existsSync(path)) return false;
  seen.add(path);
  const source = readFileSync(path, 'utf8');
  let found = false;
  for (const match of source.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = resolve(dirname(path), match[1]).replace(/\.js$/, '.ts');
    if (usesDynamoDB(target, seen)) {
      found = true;
      break;
    }
  }
  reaches.set(path, found);
  return found;
}

const list = process.argv.includes('--list');
const filters = process.argv.slice(2).filter((a) => a !== '--list');
const files = collect('test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const dynamoFiles = files.filter((f) => usesDynamoDB(f));
if (list) {
  for (const f of files) console.log(`${dynamoFiles.includes(f) ? 'dynamodb ' : '         '}${f}`);
  process.exit(0);
}
// The spec reporter, with known issues (`todo` tests that fail) shown as todo, not as failures.
const reporter = fileURLToPath(new URL('./test-reporter.mjs', import.meta.url));
const baseEnv = { ...process.env };
// On Node 20 the AWS SDK v3 prints a notice that its releases after January 2027 need Node 22, once
// per test process. It is about the SDK's future, not this run: the notice is for applications.
if (Number(process.versions.node.split('.')[0]) < 22) {
  baseEnv.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
const countsDir = mkdtempSync(join(tmpdir(), 'baton-test-counts-'));

/** One node:test run; resolves to its exit status and the counts per file. */
async function run(label, list, env) {
  const countsFile = join(countsDir, `${label}.jsonl`);
  const started = Date.now();
  // Not spawnSync: this process keeps reading the output of the DynamoDB Local it started.
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=2',
      `--test-reporter=${reporter}`,
      '--test-reporter-destination=stdout',
      '--test-reporter=./scripts/test-counts.mjs',
      `--test-reporter-destination=${countsFile}`,
      ...list,
    ],
    { stdio: 'inherit', env },
  );
  const status = await new Promise((done) => child.once('close', (code) => done(code ?? 1)));
  const perFile = existsSync(countsFile)
    ? readFileSync(countsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
    : [];
  return { status, perFile, wallMs: Date.now() - started };
}

function sum(perFile, only) {
  const wanted = only ? new Set(only.map((f) => resolve(f))) : undefined;
  const total = { pass: 0, fail: 0, skip: 0, todo: 0, ms: 0 };
  for (const c of perFile) {
    if (wanted && !wanted.has(resolve(c.file))) continue;
    for (const k of Object.keys(total)) total[k] += c[k];
  }
  return total;
}

const line = (t) => `${t.pass} passed, ${t.fail} failed, ${t.skip} skipped`;
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

const firstEngine = process.env.BATON_DYNAMODB_ENGINE || 'dynalite';
// The DynamoDB files run as their own spawn, so their counts are that run's (events do not
// always name their file).
const others = files.filter((f) => !dynamoFiles.includes(f));
const firstOthers = others.length > 0 ? await run('first-others', others, baseEnv) : undefined;
const firstDynamo = dynamoFiles.length > 0 ? await run('first-dynamodb', dynamoFiles, baseEnv) : undefined;
const first = {
  status: (firstOthers?.status ?? 0) || (firstDynamo?.status ?? 0),
  perFile: [...(firstOthers?.perFile ?? []), ...(firstDynamo?.perFile ?? [])],
};
const summary = [];
if (firstDynamo) {
  const t = sum(firstDynamo.perFile);
  summary.push(
    `DynamoDB test files (${dynamoFiles.length}) on ${firstEngine}: ${line(t)} (test time ${seconds(t.ms)})`,
  );
}

let second;
let secondFailed = false;
const wantSecond =
  dynamoFiles.length > 0 &&
  !process.env.BATON_DYNAMODB_ENGINE &&
  process.env.BATON_DYNAMODB_SECOND_PASS !== '0';
if (wantSecond) {
  const unavailable = await dynamoDBLocalMissing();
  if (unavailable) {
    const notice = `DynamoDB test files (${dynamoFiles.length}) on DynamoDB Local: SKIPPED, ${unavailable}`;
    console.log(`\n${process.env.BATON_REQUIRE_SERVICES === '1' ? 'FAILED' : 'NOTICE'}: ${notice}`);
    summary.push(notice);
    if (process.env.BATON_REQUIRE_SERVICES === '1') secondFailed = true;
  } else {
    console.log(`\n== the ${dynamoFiles.length} DynamoDB test files again, on DynamoDB Local`);
    // One engine per test process (started by test/helpers/dynamodb.ts, heap capped): an engine
    // shared by the whole pass piles up TTL tables, and past 7 of them its background jobs (index
    // creation, TTL) starve for good (a new index stayed CREATING for 10 minutes when tried).
    second = await run('second', dynamoFiles, { ...baseEnv, BATON_DYNAMODB_ENGINE: 'dynamodb-local' });
    const t = sum(second.perFile);
    summary.push(
      `DynamoDB test files (${dynamoFiles.length}) on DynamoDB Local: ${line(t)} (test time ${seconds(t.ms)}, pass wall time ${seconds(second.wallMs)})`,
    );
  }
}
rmSync(countsDir, { recursive: true, force: true });

const total = sum([...first.perFile, ...(second?.perFile ?? [])]);
console.log(`\n${summary.join('\n')}`);
if (total.todo) console.log(`known issues (todo): ${total.todo}`);
console.log(`total: ${line(total)}`);
process.exit(first.status !== 0 || (second && second.status !== 0) || secondFailed ? 1 : 0);

/** Why DynamoDB Local cannot run here (no Java, no package), or undefined when it can. */
async function dynamoDBLocalMissing() {
  try {
    await import('tsx/esm/api').then((m) => m.register());
    const { dynamoDBLocalDir, javaCommand, JAVA_HINT } = await import(
      '../src/stores/dynamodb/dynamodb-local.ts'
    );
    dynamoDBLocalDir();
    const java = spawnSync(javaCommand(), ['-version'], { encoding: 'utf8' });
    if (java.error) return `\`${javaCommand()}\` not found. ${JAVA_HINT}`;
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
