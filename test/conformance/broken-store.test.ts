/**
 * The exported suite catches a broken store: run in a child process on a MemoryStore with one
 * deliberate fault, the run fails and names the test the fault breaks; the same store without
 * the fault passes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'broken-store.ts');

/** Runs the fixture's suite with `node --test`; its exit code and spec report. */
function runSuite(fault: string): Promise<{ code: number | null; report: string }> {
  // Without the parent runner's NODE_TEST_CONTEXT, the child reports to its own stdout.
  const { NODE_TEST_CONTEXT: _parent, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', fixture], {
      env: { ...env, BATON_BROKEN: fault },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let report = '';
    child.stdout.on('data', (chunk) => {
      report += chunk;
    });
    child.stderr.on('data', (chunk) => {
      report += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, report }));
  });
}

/** The names of the tests the spec report marks failed. */
function failed(report: string): string[] {
  const names = new Set<string>();
  for (const line of report.split('\n')) {
    const match = /^\s*✖ (.+?) \(\d/.exec(line);
    if (match?.[1]) names.add(match[1]);
  }
  return [...names];
}

describe('storeConformance on a deliberately broken store', () => {
  it('fails a store whose patch ignores the expected version, naming the version-conflict tests', async () => {
    const { code, report } = await runSuite('expectVersion');
    assert.notEqual(code, 0, `the run fails; its report:\n${report.slice(0, 3000)}`);
    const names = failed(report);
    assert.ok(
      names.includes('refuses a patch whose expected version is stale (strict) and writes nothing'),
      `the version-conflict test is named; failed: ${names.join(' | ')}`,
    );
    assert.ok(names.includes('of two strict writers reading the same version, exactly one wins'));
    // Only what the fault breaks fails: the suites, the two strict tests, and the lock test that
    // checks the version a released patch returns is unaffected.
    const tests = names.filter((n) => !n.includes('Store conformance') && n !== 'version conflicts');
    assert.deepEqual(tests.sort(), [
      'of two strict writers reading the same version, exactly one wins',
      'refuses a patch whose expected version is stale (strict) and writes nothing',
    ]);
  });

  it('fails a store whose capability flags do not match its methods', async () => {
    const { code, report } = await runSuite('capabilities');
    assert.notEqual(code, 0, `the run fails; its report:\n${report.slice(0, 3000)}`);
    assert.match(report, /capabilities\.scan is false but scan\(\) is present/);
    assert.ok(
      failed(report).includes(
        'has exactly the methods its capability flags declare (no method that only throws)',
      ),
    );
  });

  it('passes the same store without a fault', async () => {
    const { code, report } = await runSuite('none');
    assert.equal(code, 0, `the honest store passes; failed: ${failed(report).join(' | ')}`);
    assert.match(report, /ℹ fail 0/);
  });
});
