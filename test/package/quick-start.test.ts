/**
 * The README's quick start, run as a new user would: its install block in an empty directory
 * (baton-session from `npm pack` of this checkout, the rest from the registry), its `server.mjs`
 * saved as written, `npx baton local`, then its run block (the environment line, two instances,
 * the curl requests) through bash. Only ports change: free ones instead of 8000, 3000 and 3001.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type Background,
  background,
  freePort,
  type Packed,
  pack,
  ROOT,
  run,
  stop,
  waitForPort,
} from '../helpers/packed.js';

/** The fenced blocks of the README's "Quick start" section, in order. */
function quickStartBlocks(): { lang: string; body: string }[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Quick start\n');
  assert.ok(start >= 0, 'README has a "## Quick start" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({
    lang: m[1] as string,
    body: m[2] as string,
  }));
}

describe('README quick start, as pasted, against the packed package', () => {
  let packed: Packed;
  let app: string;
  let engine: Background | undefined;
  const blocks = quickStartBlocks();
  const [install, server, runBlock] = blocks;

  before(() => {
    packed = pack();
  });
  after(async () => {
    await stop(engine);
    packed?.cleanup();
  });

  it('has an install block, a server.mjs and a run block', () => {
    assert.equal(blocks.length, 3, 'three fenced blocks: install, server, run');
    assert.equal(install?.lang, 'sh');
    assert.equal(server?.lang, 'js');
    assert.equal(runBlock?.lang, 'sh');
    assert.match(install?.body ?? '', /npm install baton-session express @aws-sdk\/client-dynamodb/);
  });

  it('installs into a fresh npm init -y app', () => {
    // `mkdir my-app && cd my-app` as written, inside the temporary directory; baton-session is the tarball.
    const script = (install?.body ?? '').replace(
      'npm install baton-session ',
      `npm install ${packed.tarball} `,
    );
    const result = run('bash', ['-euo', 'pipefail', '-c', script], packed.dir);
    assert.equal(result.status, 0, result.stderr + result.stdout);
    app = join(packed.dir, 'my-app');
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
    assert.ok(pkg.dependencies['baton-session'], 'baton-session is a dependency');
    writeFileSync(join(app, 'server.mjs'), server?.body ?? '');
  });

  it('two instances on two ports share one session through npx baton local', async () => {
    assert.ok(app, 'the app was installed');
    const enginePort = await freePort();
    mkdirSync(join(app, '.baton'), { recursive: true });
    engine = background('npx', ['baton', 'local', '--port', String(enginePort), '--memory'], app);
    await waitForPort(enginePort);
    const [portA, portB] = [await freePort(), await freePort()];
    const script = (runBlock?.body ?? '')
      .replaceAll('127.0.0.1:8000', `127.0.0.1:${enginePort}`)
      .replaceAll('3000', String(portA))
      .replaceAll('3001', String(portB));
    // The block leaves both instances running in the background: end them with the script.
    const result = run(
      'timeout',
      ['90', 'bash', '-c', `trap 'kill $(jobs -p) 2>/dev/null' EXIT\n${script}`],
      app,
      {
        timeoutMs: 100_000,
      },
    );
    assert.equal(result.status, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /Hello, Jack Sparrow/);
    assert.match(result.stdout, /\["rum"\]/);
    assert.match(result.stdout, /\["rum","map"\]/, "the second instance saw the first one's basket");
  });

  it('POST /basket without a JSON body answers 400, not 500', async () => {
    const port = await freePort();
    const instance = background(process.execPath, ['server.mjs'], app, { ...localEnv(), PORT: String(port) });
    try {
      // A server that never listens says why (its own output), not only that it did not.
      await waitForPort(port).catch((err: Error) => {
        throw new Error(`${err.message}; the server printed:\n${instance.output()}`);
      });
      const res = await fetch(`http://127.0.0.1:${port}/basket`, { method: 'POST' });
      assert.equal(res.status, 400, instance.output());
    } finally {
      await stop(instance);
    }
  });

  it("docs/install.md's CommonJS server.js runs in the same app", async () => {
    const install = readFileSync(join(ROOT, 'docs/install.md'), 'utf8');
    const section = install.slice(install.indexOf('\n## CommonJS\n'));
    const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(code?.includes("require('baton-session/express')"), 'the CommonJS block');
    writeFileSync(join(app, 'server.js'), code ?? '');
    const port = await freePort();
    const instance = background(process.execPath, ['server.js'], app, { ...localEnv(), PORT: String(port) });
    try {
      await waitForPort(port);
      const res = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(await res.text(), 'Hello, Jack Sparrow', instance.output());
      assert.doesNotMatch(
        instance.output(),
        /ExperimentalWarning|NodeVersionSupportWarning|ERR_REQUIRE/,
        'require() of the package is plain on a supported Node',
      );
    } finally {
      await stop(instance);
    }
  });

  function localEnv(): Record<string, string> {
    return {
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${engine?.output().match(/127\.0\.0\.1:(\d+)/)?.[1]}`,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      SESSION_SECRET: 'a-test-secret-that-is-long-enough-0123456789',
    };
  }
});
