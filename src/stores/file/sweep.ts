/**
 * Walking the file store's directories: `scan`, `gc` and the user index sweep. Directories are
 * read entry by entry (`opendir`), in hash order, so a large store is never listed in one go.
 */
import { opendir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { GcOptions, ScanOptions, SessionSummary } from '../../core/store.js';
import { isLive, sleep, summarize } from '../kit/index.js';
import { type FileRecord, hash, type SessionFiles, toStored, unlinkQuietly } from './records.js';

/** Temporary and lock files older than this are leftovers of a crashed process; gc removes them. */
const TMP_MAX_AGE_MS = 3_600_000;

export interface SweepContext {
  files: SessionFiles;
  now: () => number;
  lockStaleMs: number;
}

/** Every session's summary, expired ones only with `includeExpired`. */
export async function* scanFiles(
  { files, now, lockStaleMs }: SweepContext,
  options: ScanOptions,
): AsyncIterable<SessionSummary> {
  let left = options.limit ?? Number.POSITIVE_INFINITY;
  for await (const record of walk(files, now, lockStaleMs, false)) {
    if (left <= 0) return;
    if (!options.includeExpired && !isLive(record, now())) continue;
    left--;
    yield summarize(record.key, toStored(record));
  }
}

/**
 * Deletes expired session files (re-checked under their lock), their user index entries, index
 * entries of sessions that are gone, and temporary files left by crashed writers. `rate` bounds
 * deletions per second.
 */
export async function gcFiles(
  { files, now, lockStaleMs }: SweepContext,
  options: GcOptions,
): Promise<{ deleted: number; scanned: number }> {
  const rate = options.rate;
  const started = performance.now();
  let scanned = 0;
  let deleted = 0;
  for await (const record of walk(files, now, lockStaleMs, true)) {
    scanned++;
    if (!isLive(record, now())) {
      if (!options.dryRun) {
        const gone = await files.locked(record.key, async () => {
          const current = await files.read(record.key);
          if (!current || isLive(current, now())) return false;
          await files.unlinkSession(record.key, current);
          return true;
        });
        if (!gone) continue;
        if (rate !== undefined) {
          const ahead = ((deleted + 1) / rate) * 1000 - (performance.now() - started);
          if (ahead > 0) await sleep(ahead);
        }
      }
      deleted++;
    }
    if (scanned % 100 === 0) options.onProgress?.({ scanned, deleted });
  }
  if (!options.dryRun) await sweepUserIndex(files);
  options.onProgress?.({ scanned, deleted });
  return { deleted, scanned };
}

/** Session records under `sessions/`, directory by directory, entry by entry. */
async function* walk(
  files: SessionFiles,
  now: () => number,
  lockStaleMs: number,
  cleanTmp: boolean,
): AsyncIterable<FileRecord> {
  let shards: string[];
  try {
    shards = (await readdir(files.sessions)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const shard of shards) {
    let dir: Awaited<ReturnType<typeof opendir>>;
    try {
      dir = await opendir(join(files.sessions, shard), { bufferSize: 64 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw err;
    }
    for await (const entry of dir) {
      const path = join(files.sessions, shard, entry.name);
      if (entry.name.endsWith('.json')) {
        const record = await files.readPath(path);
        if (record) yield record;
      } else if (cleanTmp && /\.(tmp|stale|lock)$/.test(entry.name)) {
        // Leftovers of crashed processes. A lock file this old is stale by any setting; a
        // live one is never more than lockStaleMs old.
        const info = await stat(path).catch(() => null);
        const maxAge = Math.max(TMP_MAX_AGE_MS, 2 * lockStaleMs);
        if (info && info.mtimeMs + maxAge < now()) await unlinkQuietly(path);
      }
    }
  }
}

/** Removes index entries whose session file is gone (or moved to another user). */
async function sweepUserIndex(files: SessionFiles): Promise<void> {
  let users: string[];
  try {
    users = await readdir(files.users);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const user of users) {
    const userDir = join(files.users, user);
    const names = await readdir(userDir).catch(() => [] as string[]);
    for (const name of names) {
      const record = await files.readPath(files.pathOfHash(name));
      if (!record || record.userId === undefined || hash(record.userId) !== user) {
        await unlinkQuietly(join(userDir, name));
      }
    }
  }
}
