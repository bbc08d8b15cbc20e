/**
 * docs/install.md's NestJS example, compiled with NestJS's usual tsconfig (CommonJS, classic
 * resolution, decorators) against the packed package, then run on the local engine: it serves a
 * request with a session, and its main.ts has no top-level await.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type Background,
  background,
  freePort,
  installApp,
  type Packed,
  pack,
  ROOT,
  run,
  stop,
  waitForPort,
} from '../helpers/packed.js';

const NEST = ['@nestjs/core', '@nestjs/common', '@nestjs/platform-express', 'reflect-metadata', 'rxjs'];

describe('NestJS example from docs/install.md, against the packed package', () => {
  let packed: Packed;
  let app: string;
  let engine: Background | undefined;
  let server: Background | undefined;

  before(() => {
    packed = pack();
    app = installApp(packed, 'nest-app', [
      'express',
      '@types/express',
      '@types/node',
      '@aws-sdk/client-dynamodb',
      'dynalite',
      ...NEST,
    ]);
  });
  after(async () => {
    await stop(server);
    await stop(engine);
    packed?.cleanup();
  });

  it('compiles under module commonjs + classic node resolution and serves a session', async () => {
    const docs = readFileSync(join(ROOT, 'docs/install.md'), 'utf8');
    const code = /```ts\n([\s\S]*?)```/.exec(docs.slice(docs.indexOf('\n## NestJS\n')))?.[1] ?? '';
    assert.match(code, /NestFactory\.create/);
    assert.doesNotMatch(code.replace(/async function[\s\S]*?\n}\n/g, ''), /^await /m, 'no top-level await');
    writeFileSync(join(app, 'main.ts'), code);
    const compilerOptions = {
      module: 'commonjs',
      moduleResolution: 'node',
      target: 'ES2021',
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      strict: true,
      esModuleInterop: true,
      skipLibCheck: true,
      outDir: 'dist',
      types: ['node'],
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['main.ts'] }));
    const tsc = run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', app], app);
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);

    const enginePort = await freePort();
    engine = background('npx', ['baton', 'local', '--port', String(enginePort), '--memory'], app);
    await waitForPort(enginePort);
    const port = await freePort();
    server = background(process.execPath, ['dist/main.js'], app, {
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${enginePort}`,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      SESSION_SECRET: 'a-test-secret-that-is-long-enough-0123456789',
      PORT: String(port),
    });
    await waitForPort(port, 60_000);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200, server.output());
    assert.equal(await res.text(), 'Hello, Jack Sparrow');
    assert.match(res.headers.get('set-cookie') ?? '', /^sid=/, 'the session was stored and its cookie set');
  });
});
