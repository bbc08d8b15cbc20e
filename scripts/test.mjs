#!/usr/bin/env node
// Runs every test file under test/ with Node's test runner (TypeScript through tsx).
// Usage: node scripts/test.mjs [path-filter ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
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

const filters = process.argv.slice(2);
const files = collect('test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
// The spec reporter, with known issues (`todo` tests that fail) shown as todo, not as failures.
const reporter = fileURLToPath(new URL('./test-reporter.mjs', import.meta.url));
const env = { ...process.env };
// On Node 20 the AWS SDK v3 prints a notice that its releases after January 2027 need Node 22, once
// per test process. It is about the SDK's future, not this run: the notice is for applications.
if (Number(process.versions.node.split('.')[0]) < 22) {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-reporter=${reporter}`, ...files],
  { stdio: 'inherit', env },
);
process.exit(result.status ?? 1);
