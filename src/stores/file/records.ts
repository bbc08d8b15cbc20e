/**
 * The file store's I/O: where a session's file lives, reading and writing it atomically, its
 * lock file, and the per-user index entries.
 *
 * Layout under `dir`:
 *   sessions/<hh>/<hash>.json        one session (hash = sha256 hex of the key; hh = its first 2 chars)
 *   sessions/<hh>/<hash>.json.lock   held while one process reads-modifies-writes that session
 *   users/<uid hash>/<hash>          empty marker: the session <hash> belongs to that user
 *
 * A write goes to a temporary file in the same directory, is fsynced and renamed over the
 * session file, so a reader sees the old or the new session, never a torn one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StoreUnavailableError } from '../../core/errors.js';
import type { StoredSession } from '../../core/store.js';
import { withLockFile } from './lock-file.js';
import type { FileSettings } from './options.js';

/** What one session file holds. */
export interface FileRecord {
  key: string;
  data: Record<string, string>;
  createdAt: number;
  expiresAt: number;
  absoluteExpiresAt: number;
  version: number;
  userId?: string;
  lock?: { token: string; until: number };
}

export class SessionFiles {
  readonly sessions: string;
  readonly users: string;
  readonly #settings: FileSettings;
  readonly #now: () => number;
  readonly #assertOpen: () => void;

  /**
   * `now` is the clock lock expiries are judged by; `assertOpen` throws once the store is
   * closed, checked before every read and lock so long sweeps stop at `close()`.
   */
  constructor(settings: FileSettings, now: () => number, assertOpen: () => void) {
    this.#settings = settings;
    this.sessions = join(settings.dir, 'sessions');
    this.users = join(settings.dir, 'users');
    this.#now = now;
    this.#assertOpen = assertOpen;
  }

  pathOfHash(h: string): string {
    return join(this.sessions, h.slice(0, 2), `${h}.json`);
  }

  path(key: string): string {
    return this.pathOfHash(hash(key));
  }

  /** Runs `fn` holding the session's lock file (every read-modify-write does). */
  locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    const { lockStaleMs, lockWaitMs } = this.#settings;
    return withLockFile(
      `${this.path(key)}.lock`,
      { staleMs: lockStaleMs, waitMs: lockWaitMs, scope: 'file', now: this.#now },
      fn,
    );
  }

  async read(key: string): Promise<FileRecord | null> {
    this.#assertOpen();
    const record = await this.readPath(this.path(key));
    // Another key with the same sha256 would be a first; refuse to mix them up all the same.
    return record && record.key === key ? record : null;
  }

  async readPath(path: string): Promise<FileRecord | null> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      return JSON.parse(text) as FileRecord;
    } catch (err) {
      throw new StoreUnavailableError(`the session file ${path} is not valid JSON`, {
        scope: 'file',
        cause: err,
      });
    }
  }

  /** Write to a temporary file, fsync, rename over the session file, fsync the directory. */
  async write(key: string, record: FileRecord): Promise<void> {
    const path = this.path(key);
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    const text = JSON.stringify(record);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(tmp, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(dirname(path), { recursive: true });
      handle = await open(tmp, 'wx');
    }
    try {
      try {
        await handle.writeFile(text);
        if (this.#settings.fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await unlinkQuietly(tmp);
      throw err;
    }
    if (this.#settings.fsync) await syncDir(dirname(path));
  }

  async unlinkSession(key: string, record: FileRecord): Promise<void> {
    await unlinkQuietly(this.path(key));
    if (this.#settings.fsync) await syncDir(dirname(this.path(key)));
    if (record.userId !== undefined) await this.removeUserEntry(record.userId, key);
  }

  userDir(userId: string): string {
    return join(this.users, hash(userId));
  }

  async addUserEntry(userId: string, key: string): Promise<void> {
    const userDir = this.userDir(userId);
    await mkdir(userDir, { recursive: true });
    const handle = await open(join(userDir, hash(key)), 'w');
    await handle.close();
  }

  async removeUserEntry(userId: string, key: string): Promise<void> {
    await unlinkQuietly(join(this.userDir(userId), hash(key)));
  }
}

export function hash(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** The session a record holds, without the file store's own fields (key, lock). */
export function toStored(record: FileRecord): StoredSession {
  const s: StoredSession = {
    data: record.data,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    absoluteExpiresAt: record.absoluteExpiresAt,
    version: record.version,
  };
  if (record.userId !== undefined) s.userId = record.userId;
  return s;
}

/** The record of `session` under `key`, holding `lock` when given. */
export function toRecord(key: string, session: StoredSession, lock?: FileRecord['lock']): FileRecord {
  const record: FileRecord = {
    key,
    data: session.data,
    createdAt: session.createdAt,
    expiresAt: session.expiresAt,
    absoluteExpiresAt: session.absoluteExpiresAt,
    version: session.version,
  };
  if (session.userId !== undefined) record.userId = session.userId;
  if (lock !== undefined) record.lock = lock;
  return record;
}

export async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Makes a rename or unlink durable. Some systems cannot open directories: skip there. */
async function syncDir(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw err;
  } finally {
    await handle?.close();
  }
}
