import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FileStore } from '../../src/stores/file/index.js';
import { storeConformance } from '../../src/testing/index.js';
import { newKey, record } from '../conformance/suite.js';
import { expressClusterTests } from './express-cluster.js';

const root = mkdtempSync(join(tmpdir(), 'baton-file-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `store-${n++}`);

storeConformance({
  name: 'FileStore',
  create: async () => {
    const store = new FileStore({ dir: freshDir(), maxSize: 64 * 1024, fsync: false });
    await store.ensureTable();
    return store;
  },
});

/** All files under a directory, relative paths. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

/** Starts a writer process; resolves once it is ready, with a `go` that starts it and its result. */
function startWriter(
  dir: string,
  key: string,
  prefix: string,
  count: number,
): Promise<{ go: () => Promise<(number | null)[]> }> {
  const script = fileURLToPath(new URL('./file-writer.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, dir, key, prefix, String(count)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const done = new Promise<(number | null)[]>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.slice(out.indexOf('\n') + 1)))
        : reject(new Error(`writer exited ${code}: ${err}`)),
    );
  });
  return new Promise((resolve, reject) => {
    done.catch(reject);
    child.stdout.on('data', (d) => {
      const first = !out.includes('\n');
      out += d;
      if (first && out.includes('\n')) {
        resolve({
          go: () => {
            child.stdin.end('go\n');
            return done;
          },
        });
      }
    });
  });
}

describe('FileStore specifics', () => {
  it('two separate processes patching one session at once lose nothing', async () => {
    const dir = freshDir();
    const store = new FileStore({ dir });
    const key = newKey();
    await store.create(key, record({ data: {} }));
    const writers = await Promise.all([startWriter(dir, key, 'a', 25), startWriter(dir, key, 'b', 25)]);
    const writing = Promise.all(writers.map((w) => w.go()));
    // Meanwhile this process reads: every read sees a whole session (old or new), never a torn
    // file, and versions only go up.
    let finished = false;
    const stop = () => {
      finished = true;
    };
    void writing.then(stop, stop);
    let reads = 0;
    let lastVersion = 0;
    while (!finished) {
      const seen = await store.get(key);
      assert.ok(seen, 'the session is always there');
      assert.ok(seen.version >= lastVersion, 'versions never go back');
      assert.equal(Object.keys(seen.data).length, seen.version - 1, 'data and version from the same write');
      lastVersion = seen.version;
      reads++;
    }
    const [a, b] = await writing;
    assert.ok(reads > 0);
    const got = await store.get(key);
    assert.equal(Object.keys(got?.data ?? {}).length, 50);
    for (let i = 0; i < 25; i++) {
      assert.equal(got?.data[`a${i}`], String(i));
      assert.equal(got?.data[`b${i}`], String(i));
    }
    assert.equal(got?.version, 51);
    const versions = [...(a ?? []), ...(b ?? [])].sort((x, y) => (x ?? 0) - (y ?? 0));
    assert.deepEqual(
      versions,
      Array.from({ length: 50 }, (_, i) => i + 2),
      'each patch got its own version',
    );
    assert.deepEqual(
      filesUnder(dir)
        .filter((f) => !f.startsWith('users') && f !== 'clock')
        .filter((f) => !f.endsWith('.json')),
      [],
      'no lock or temporary file left behind',
    );
  });

  it('names files from a hash of the key, so keys with / .. : stay inside the directory', async () => {
    const dir = freshDir();
    const store = new FileStore({ dir, fsync: false });
    const keys = ['../../etc/passwd', 'a/b', 'c:d', 'sess:ÄÖ', '.', 'x'.repeat(2_000)];
    for (const k of keys) await store.create(k, record({ userId: 'u/../1' }));
    for (const k of keys) assert.ok(await store.get(k), k);
    for (const f of filesUnder(dir))
      assert.match(
        f,
        /^(sessions\/[0-9a-f]{2}\/[0-9a-f]{64}\.json|users\/[0-9a-f]{64}\/[0-9a-f]{64}|clock)$/,
      );
    assert.equal((await store.listByUser('u/../1')).length, keys.length);
    const scanned: string[] = [];
    for await (const s of store.scan()) scanned.push(s.key);
    assert.deepEqual(scanned.sort(), [...keys].sort());
  });

  it('breaks a stale lock file left by a dead process, and waits for a live one', async () => {
    const dir = freshDir();
    const store = new FileStore({ dir, fsync: false, lockStaleMs: 300, lockWaitMs: 1_000 });
    const key = newKey();
    await store.create(key, record());
    const sessionFile = filesUnder(dir).find((f) => f.endsWith('.json'));
    assert.ok(sessionFile);
    const lockPath = join(dir, `${sessionFile}.lock`);
    // A holder that died: its expiry has passed.
    writeFileSync(lockPath, JSON.stringify({ token: 'dead', expires: Date.now() - 1 }));
    assert.deepEqual(await store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 }), {
      version: 2,
    });
    // A holder that died between creating the file and writing it: judged by its age.
    writeFileSync(lockPath, '');
    const started = Date.now();
    assert.equal(await store.touch(key, Date.now() + 60_000), true);
    assert.ok(Date.now() - started >= 250, 'an empty lock file is honoured until it is lockStaleMs old');
    // A live holder that keeps its lock: the writer gives up after lockWaitMs.
    writeFileSync(lockPath, JSON.stringify({ token: 'alive', expires: Date.now() + 60_000 }));
    await assert.rejects(store.patch(key, { set: { b: '1' }, unset: [], expiresAt: Date.now() + 60_000 }), {
      code: 'BATON_LOCK_TIMEOUT',
    });
    assert.equal(await store.lock(key, 1_000), null, 'a busy lock file counts as held');
    assert.equal(
      JSON.parse(readFileSync(lockPath, 'utf8')).token,
      'alive',
      "another holder's lock is left alone",
    );
    rmSync(lockPath);
    assert.equal((await store.get(key))?.data.b, undefined);
  });

  it('gc removes expired files, their user index entries and old temporary and lock files', async () => {
    const dir = freshDir();
    const store = new FileStore({ dir, fsync: false });
    const now = Date.now();
    for (let i = 0; i < 3; i++)
      await store.create(newKey(), record({ userId: 'gone-user', expiresAt: now + 200 }));
    const live = newKey();
    await store.create(live, record({ userId: 'live-user' }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Leftovers of a crashed writer next to the live session: two hours old.
    const liveFile = filesUnder(dir).find((f) => f.startsWith('sessions') && f.endsWith('.json'));
    const old = new Date(Date.now() - 7_200_000);
    const leftovers = ['x.json.abc.tmp', 'y.json.lock', 'z.json.lock.def.stale'].map((name) =>
      join(dir, dirname(liveFile ?? ''), name),
    );
    for (const f of leftovers) {
      writeFileSync(f, '');
      utimesSync(f, old, old);
    }
    const progress: number[] = [];
    const result = await store.gc({ onProgress: (p) => progress.push(p.deleted) });
    assert.deepEqual(result, { deleted: 3, scanned: 4 });
    assert.equal(progress.at(-1), 3);
    const files = filesUnder(dir);
    assert.equal(files.filter((f) => f.startsWith('sessions')).length, 1);
    assert.equal(files.filter((f) => f.startsWith('users')).length, 1, 'only the live user entry is left');
    assert.equal((await store.listByUser('live-user'))[0]?.key, live);
  });

  it('validates its options with ConfigError naming the option', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'dir'],
      [{ dir: root, maxSize: -1 }, 'maxSize'],
      [{ dir: root, lockStaleMs: 5_000, lockWaitMs: 1_000 }, 'lockWaitMs'],
      [{ dir: root, fsync: 'yes' }, 'fsync'],
    ];
    for (const [options, option] of cases) {
      assert.throws(
        () => new FileStore(options as never),
        (err: { code?: string; option?: string }) => err.code === 'BATON_CONFIG' && err.option === option,
        JSON.stringify(options),
      );
    }
  });
});

expressClusterTests('FileStore', async () => new FileStore({ dir: freshDir() }));
