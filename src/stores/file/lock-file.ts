/**
 * A mutual-exclusion lock between processes (and machines sharing an NFS mount): a lock file
 * created with `open(path, 'wx')` (O_CREAT|O_EXCL, atomic on local file systems and NFSv3+),
 * holding its owner's token and its expiry. A holder that died leaves a file whose expiry has
 * passed; the next contender breaks it (renames it away, checks it moved the stale one, deletes
 * it) and takes the lock.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { LockTimeoutError } from '../../core/errors.js';
import { sleep } from '../kit/index.js';

export interface LockFileOptions {
  /** A lock older than this is stale and may be broken (its holder is taken for dead). */
  staleMs: number;
  /** Longest wait for the lock before LockTimeoutError. */
  waitMs: number;
  /** Scope for error messages. */
  scope: string;
  /** The clock lock expiries are written and judged by: the file server's (see FileStore's `clock`). @default Date.now */
  now?: () => number;
}

interface LockContent {
  token: string;
  expires: number;
}

export async function withLockFile<T>(
  path: string,
  options: LockFileOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const token = randomBytes(12).toString('base64url');
  const now = options.now ?? Date.now;
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    if (await tryCreate(path, token, options.staleMs, now)) break;
    if (await breakIfStale(path, options.staleMs, now)) continue;
    const waited = Date.now() - started;
    if (waited >= options.waitMs) throw new LockTimeoutError(waited, { scope: options.scope });
    // Short critical sections: retry soon, with jitter so contenders do not move in step.
    await sleep(Math.min(5 + attempt * 2, 25) + Math.random() * 10);
  }
  try {
    return await fn();
  } finally {
    await release(path, token);
  }
}

async function tryCreate(path: string, token: string, staleMs: number, now: () => number): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'ENOENT') {
      await mkdir(dirname(path), { recursive: true });
      return tryCreate(path, token, staleMs, now);
    }
    throw err;
  }
  try {
    const content = { token, expires: now() + staleMs, pid: process.pid, host: hostname() };
    await handle.writeFile(JSON.stringify(content));
  } finally {
    await handle.close();
  }
  return true;
}

/** Reads a lock file: its content, or null when gone. Unparseable content (a holder that died between create and write) reads as empty. */
async function readLock(path: string): Promise<{ raw: string; content: LockContent | null } | null> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const parsed = JSON.parse(raw) as Partial<LockContent>;
    if (typeof parsed.token === 'string' && typeof parsed.expires === 'number') {
      return { raw, content: { token: parsed.token, expires: parsed.expires } };
    }
  } catch {
    // fall through: empty or torn content
  }
  return { raw, content: null };
}

async function isStale(
  path: string,
  lock: { content: LockContent | null },
  staleMs: number,
  now: () => number,
): Promise<boolean> {
  if (lock.content) return lock.content.expires <= now();
  // No readable expiry: judge by the file's age.
  try {
    const { mtimeMs } = await stat(path);
    return mtimeMs + staleMs <= now();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Breaks the lock when stale; true when it did (or the lock vanished meanwhile). */
async function breakIfStale(path: string, staleMs: number, now: () => number): Promise<boolean> {
  const seen = await readLock(path);
  if (seen === null) return true;
  if (!(await isStale(path, seen, staleMs, now))) return false;
  // Move it out of the way atomically, then make sure we moved the stale lock we judged and
  // not a fresh one a faster contender created in between.
  const aside = `${path}.${randomBytes(6).toString('hex')}.stale`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  const moved = await readLock(aside);
  if (moved !== null && moved.raw !== seen.raw) {
    // Someone's live lock: put it back unless yet another holder is there now.
    try {
      await link(aside, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  await unlink(aside).catch(() => {});
  return moved === null || moved.raw === seen.raw;
}

/** Removes the lock file if it is still ours (it may have been broken as stale and retaken). */
async function release(path: string, token: string): Promise<void> {
  const lock = await readLock(path);
  if (lock?.content?.token !== token) return;
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
