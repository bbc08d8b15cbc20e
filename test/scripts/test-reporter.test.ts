// scripts/test-reporter.mjs: a passing run ends with the summary; a known issue (a failing `todo`
// test) is reported as todo with its reason, never with a stack under "failing tests".
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const reporter = fileURLToPath(new URL('../../scripts/test-reporter.mjs', import.meta.url));

function run(source: string): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'baton-reporter-'));
  try {
    const file = join(dir, 'fixture.test.mjs');
    writeFileSync(file, source);
    // A child of a test file must not see NODE_TEST_CONTEXT, or it runs as that file's subtest.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const result = spawnSync(process.execPath, ['--test', `--test-reporter=${reporter}`, file], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...env, NODE_OPTIONS: '', NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    return { status: result.status, out: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const header = "import { describe, it } from 'node:test';\nimport assert from 'node:assert/strict';\n";

describe('test reporter', () => {
  it('a passing run with a failing todo test ends with the summary, no failure stack', () => {
    const { status, out } = run(
      `${header}it('fine', () => {});
describe('group', () => {
  it('known issue', { todo: 'the engine drops it' }, () => { assert.equal(1, 2, 'one is not two'); });
});`,
    );
    assert.equal(status, 0, out);
    assert.doesNotMatch(out, /failing tests/);
    assert.doesNotMatch(out, /AssertionError|at TestContext/);
    assert.match(out, /known issue .*# the engine drops it/);
    assert.match(out, /known to fail: one is not two/);
    const lastLines = out.trimEnd().split('\n').slice(-8).join('\n');
    assert.match(lastLines, /ℹ tests 2[\s\S]*ℹ fail 0[\s\S]*ℹ todo 1[\s\S]*ℹ duration_ms/);
  });

  it('a real failure is still listed with its error and fails the run', () => {
    const { status, out } = run(`${header}it('broken', () => { assert.equal(1, 2, 'really broken'); });`);
    assert.equal(status, 1, out);
    assert.match(out, /failing tests/);
    assert.match(out, /really broken/);
  });
});
