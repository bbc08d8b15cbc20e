/**
 * Argument checks at the Store contract's edge, the same for every store: a driver calls these
 * before any I/O, so bad input never reaches an engine and the error names what was wrong.
 */
import { InvalidInputError } from '../../core/errors.js';
import type { Patch, StoredSession } from '../../core/store.js';

export function assertKey(store: string, key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidInputError(`a session key must be a non-empty string, got ${describe(key)}`, {
      scope: store,
    });
  }
}

function assertTime(store: string, what: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidInputError(
      `\`${what}\` must be a time in ms since the epoch (>= 0), got ${describe(value)}`,
      {
        scope: store,
      },
    );
  }
}

function assertData(store: string, data: unknown, what: string): void {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new InvalidInputError(`\`${what}\` must be an object of key → JSON text`, { scope: store });
  }
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== 'string') {
      throw new InvalidInputError(
        `\`${what}\`[${JSON.stringify(k)}] must be JSON text (a string), got ${describe(v)}`,
        {
          scope: store,
        },
      );
    }
  }
}

export function assertStoredSession(store: string, s: StoredSession): void {
  if (typeof s !== 'object' || s === null)
    throw new InvalidInputError('a session must be an object', { scope: store });
  assertData(store, s.data, 'data');
  assertTime(store, 'createdAt', s.createdAt);
  assertTime(store, 'expiresAt', s.expiresAt);
  assertTime(store, 'absoluteExpiresAt', s.absoluteExpiresAt);
  if (!Number.isInteger(s.version) || s.version < 0) {
    throw new InvalidInputError(`\`version\` must be a whole number >= 0, got ${describe(s.version)}`, {
      scope: store,
    });
  }
  if (s.userId !== undefined && (typeof s.userId !== 'string' || s.userId.length === 0)) {
    throw new InvalidInputError(`\`userId\` must be a non-empty string, got ${describe(s.userId)}`, {
      scope: store,
    });
  }
}

export function assertPatch(store: string, p: Patch): void {
  if (typeof p !== 'object' || p === null)
    throw new InvalidInputError('a patch must be an object', { scope: store });
  assertData(store, p.set, 'set');
  if (!Array.isArray(p.unset) || p.unset.some((k) => typeof k !== 'string')) {
    throw new InvalidInputError('`unset` must be an array of key names', { scope: store });
  }
  assertTime(store, 'expiresAt', p.expiresAt);
  if (p.expect !== undefined) assertExpect(store, p.expect);
  if (p.maxBytes !== undefined && (typeof p.maxBytes !== 'number' || !(p.maxBytes > 0))) {
    throw new InvalidInputError(`\`maxBytes\` must be a positive number, got ${describe(p.maxBytes)}`, {
      scope: store,
    });
  }
  if (
    p.userId !== undefined &&
    p.userId !== null &&
    (typeof p.userId !== 'string' || p.userId.length === 0)
  ) {
    throw new InvalidInputError(`\`userId\` must be a non-empty string or null, got ${describe(p.userId)}`, {
      scope: store,
    });
  }
}

/** `listByUser` takes a non-empty user id. */
export function assertUserId(store: string, userId: unknown): asserts userId is string {
  if (typeof userId !== 'string' || userId.length === 0) {
    throw new InvalidInputError(`a user id must be a non-empty string, got ${describe(userId)}`, {
      scope: store,
    });
  }
}

export function assertExpiry(store: string, expiresAt: unknown): void {
  assertTime(store, 'expiresAt', expiresAt);
}

/** `lock` takes a time to live in ms, > 0. */
export function assertLockTtl(store: string, ttlMs: unknown): asserts ttlMs is number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new InvalidInputError(`a lock's ttlMs must be a number > 0, got ${describe(ttlMs)}`, {
      scope: store,
    });
  }
}

/** `gc`'s `rate` (deletions or capacity units per second), when given, is a number > 0. */
export function assertGcRate(store: string, rate: unknown): void {
  if (rate !== undefined && (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0)) {
    throw new InvalidInputError(`gc rate must be a number > 0, got ${describe(rate)}`, { scope: store });
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  return typeof value === 'object'
    ? value === null
      ? 'null'
      : Array.isArray(value)
        ? 'an array'
        : 'an object'
    : String(value);
}

function assertExpect(store: string, expect: unknown): void {
  if (typeof expect !== 'object' || expect === null || Array.isArray(expect)) {
    throw new InvalidInputError('`expect` must be an object of key → JSON text or null', { scope: store });
  }
  for (const [k, v] of Object.entries(expect)) {
    if (v !== null && typeof v !== 'string') {
      throw new InvalidInputError(
        `\`expect\`[${JSON.stringify(k)}] must be JSON text (a string) or null, got ${describe(v)}`,
        { scope: store },
      );
    }
  }
}
