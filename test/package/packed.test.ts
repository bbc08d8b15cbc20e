/**
 * The published package, installed from `npm pack` into a fresh app: what the tarball holds and
 * weighs, every entry point through require() and import(), TypeScript consumers under each module
 * resolution, and `baton demo` (left out of the package) saying where it runs.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { installApp, type Packed, pack, ROOT, run } from '../helpers/packed.js';

/** The budget: the tarball as downloaded, and as unpacked on disk. */
const MAX_PACKED_BYTES = 480 * 1024;
const MAX_UNPACKED_BYTES = 1664 * 1024;
const CONSUMER = join(ROOT, 'test/package/consumer');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

describe('the packed package', () => {
  let packed: Packed;
  let app: string;
  before(() => {
    packed = pack();
    app = installApp(packed, 'app', [
      'express@5',
      'express-session',
      '@opentelemetry/api',
      '@types/express',
      '@types/node',
    ]);
  });
  after(() => packed?.cleanup());

  it(`ships dist, README, CHANGELOG and docs within ${MAX_PACKED_BYTES / 1024} KB packed, ${MAX_UNPACKED_BYTES / 1024} KB unpacked`, () => {
    const files = packed.info.files.map((f) => f.path);
    const stray = files.filter(
      (f) =>
        !/^dist\/.+\.(js|d\.ts)$/.test(f) &&
        !/^docs\/[\w-]+\.(md|svg)$/.test(f) &&
        !['package.json', 'README.md', 'CHANGELOG.md'].includes(f),
    );
    assert.deepEqual(stray, [], 'only built code, types and docs');
    assert.deepEqual(
      files.filter((f) => f.endsWith('.map')),
      [],
      'no source maps (their sources are not shipped)',
    );
    assert.deepEqual(
      files.filter((f) => f.startsWith('dist/demo/') || f.endsWith('.png')),
      [],
      'no demo, no screenshot',
    );
    for (const must of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'README.md',
      'docs/install.md',
    ]) {
      assert.ok(files.includes(must), `${must} is in the package`);
    }
    assert.ok(packed.info.size <= MAX_PACKED_BYTES, `packed ${packed.info.size} bytes`);
    assert.ok(packed.info.unpackedSize <= MAX_UNPACKED_BYTES, `unpacked ${packed.info.unpackedSize} bytes`);
  });

  it('names its repository, homepage, bug tracker and keywords, and links its images absolutely', async () => {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(join(app, 'node_modules/baton-session/package.json'), 'utf8'));
    assert.match(pkg.repository?.url ?? '', /^git\+https:\/\/github\.com\//);
    assert.match(pkg.homepage ?? '', /^https:\/\//);
    assert.match(pkg.bugs?.url ?? '', /^https:\/\//);
    assert.ok(Array.isArray(pkg.keywords) && pkg.keywords.includes('dynamodb'));
    // Images (which the package leaves out) are linked absolutely, except docs' own SVG chart.
    const shipped = new Set(packed.info.files.map((f) => f.path));
    for (const doc of ['README.md', ...[...shipped].filter((f) => f.startsWith('docs/'))]) {
      const text = await readFile(join(app, 'node_modules/baton-session', doc), 'utf8').catch(() => '');
      for (const [, target] of text.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) {
        const local = join(doc, '..', target ?? '').replace(/^\.\//, '');
        assert.ok(/^https:\/\//.test(target ?? '') || shipped.has(local), `${doc}: image ${target} resolves`);
      }
    }
  });

  it('every entry point loads with require() (CommonJS) and import() (ESM), no store driver installed', () => {
    copyFileSync(join(CONSUMER, 'require-all.cjs'), join(app, 'require-all.cjs'));
    copyFileSync(join(CONSUMER, 'import-all.mjs'), join(app, 'import-all.mjs'));
    for (const script of ['require-all.cjs', 'import-all.mjs']) {
      const result = run(process.execPath, [script], app, { timeoutMs: 60_000 });
      assert.equal(result.status, 0, `${script}: ${result.stderr}`);
      const loaded = JSON.parse(result.stdout) as Record<string, number>;
      assert.equal(Object.keys(loaded).length, 18, `${script} loaded ${Object.keys(loaded).join(', ')}`);
      assert.ok(loaded['baton-session/postgres'] && loaded['baton-session/mysql']);
    }
  });

  const settings: { name: string; type: 'module' | 'commonjs'; options: Record<string, string> }[] = [
    { name: 'nodenext', type: 'module', options: { module: 'nodenext', moduleResolution: 'nodenext' } },
    { name: 'node16-esm', type: 'module', options: { module: 'node16', moduleResolution: 'node16' } },
    { name: 'bundler', type: 'module', options: { module: 'esnext', moduleResolution: 'bundler' } },
    { name: 'node10-commonjs', type: 'commonjs', options: { module: 'commonjs', moduleResolution: 'node' } },
    {
      name: 'nodenext-commonjs',
      type: 'commonjs',
      options: { module: 'nodenext', moduleResolution: 'nodenext' },
    },
  ];
  for (const { name, type, options } of settings) {
    it(`a TypeScript consumer compiles with ${JSON.stringify(options)} in a ${type} app`, () => {
      const dir = join(app, `ts-${name}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type }));
      copyFileSync(join(CONSUMER, 'consumer.ts'), join(dir, 'consumer.ts'));
      const compilerOptions = {
        ...options,
        target: 'es2022',
        strict: true,
        esModuleInterop: true,
        skipLibCheck: true,
        noEmit: true,
        types: ['node'],
      };
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }));
      const result = run(process.execPath, [TSC, '-p', dir], dir, { timeoutMs: 120_000 });
      assert.equal(result.status, 0, result.stdout + result.stderr);
    });
  }

  it('baton demo says in one line that it runs from a checkout', () => {
    const result = run('npx', ['baton', 'demo', '--memory'], app, { timeoutMs: 60_000 });
    assert.equal(result.status, 1);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /^baton demo runs from a checkout: git clone https:\/\/github\.com\//);
  });
});
