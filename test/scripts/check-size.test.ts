import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const script = new URL('../../scripts/check-size.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'baton-size-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(folder: string) {
  return spawnSync(process.execPath, [script, folder], { encoding: 'utf8' });
}

function lines(n: number): string {
  return Array.from({ length: n }, (_, i) => `export const v${i} = ${i};\n`).join('');
}

describe('scripts/check-size.mjs', () => {
  it('passes a folder whose files are at most 400 lines', () => {
    const ok = join(dir, 'ok');
    mkdirSync(join(ok, 'nested'), { recursive: true });
    writeFileSync(join(ok, 'a.ts'), lines(400));
    writeFileSync(join(ok, 'nested', 'b.ts'), lines(10));
    const result = run(ok);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /2 files .* none over 400 lines/);
  });

  it('fails on a file of 401 lines, naming it and its count', () => {
    const big = join(dir, 'big');
    mkdirSync(join(big, 'deep'), { recursive: true });
    writeFileSync(join(big, 'small.ts'), lines(3));
    writeFileSync(join(big, 'deep', 'large.ts'), lines(401));
    const result = run(big);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /1 file\(s\) over 400 lines/);
    assert.match(result.stderr, /deep\/large\.ts: 401 lines/);
    assert.doesNotMatch(result.stderr, /small\.ts/);
  });
});
