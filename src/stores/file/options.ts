/** The file store's options, documented and validated once (`ConfigError` names the option). */
import { resolve } from 'node:path';
import { ConfigError } from '../../core/errors.js';
import type { ClockOption } from '../clock.js';

export interface FileStoreOptions {
  /** Directory holding the sessions (created by `ensureTable()` or the first write). */
  dir: string;
  /**
   * Largest session in bytes of key names plus JSON text.
   * @default 1048576 (1 MiB)
   */
  maxSize?: number;
  /**
   * A session's lock file older than this is taken for the lock of a dead process and broken.
   * Critical sections last milliseconds; keep this well above your worst file-system stall.
   * @default 5000
   */
  lockStaleMs?: number;
  /**
   * Longest wait for a session's lock file before LockTimeoutError. Longer than `lockStaleMs`,
   * so a dead holder's lock is broken within it.
   * @default 10000
   */
  lockWaitMs?: number;
  /**
   * fsync each written file and its directory before the write counts as done. Turn off only
   * for throwaway data (tests, development).
   * @default true
   */
  fsync?: boolean;
  /**
   * Which clock decides expiry: `'store'` reads the file server's once a minute (the mtime it
   * gives a small file it writes: on NFS the server's clock) and corrects this machine's by the
   * difference; `'local'` uses this machine's as is. See the README.
   * @default 'store'
   */
  clock?: ClockOption;
}

/** The options with their defaults, checked. */
export interface FileSettings {
  dir: string;
  maxSize: number;
  lockStaleMs: number;
  lockWaitMs: number;
  fsync: boolean;
}

export function fileSettings(options: FileStoreOptions): FileSettings {
  if (typeof options?.dir !== 'string' || options.dir.length === 0) {
    throw new ConfigError('dir', 'must be the path of a directory for the session files');
  }
  const lockStaleMs = positive('lockStaleMs', options.lockStaleMs ?? 5_000);
  const lockWaitMs = positive('lockWaitMs', options.lockWaitMs ?? 10_000);
  if (lockWaitMs <= lockStaleMs) {
    throw new ConfigError('lockWaitMs', `must be longer than lockStaleMs (${lockStaleMs} ms)`);
  }
  const fsync = options.fsync ?? true;
  if (typeof fsync !== 'boolean') throw new ConfigError('fsync', 'must be true or false');
  return {
    dir: resolve(options.dir),
    maxSize: positive('maxSize', options.maxSize ?? 1024 * 1024),
    lockStaleMs,
    lockWaitMs,
    fsync,
  };
}

function positive(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new ConfigError(option, `must be a whole number > 0, got ${JSON.stringify(value)}`);
  }
  return value;
}
