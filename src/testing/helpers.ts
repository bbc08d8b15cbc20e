/** What every section of the conformance suite shares: fixtures and the checks it repeats. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { Store, StoreCapabilities, StoredSession } from '../core/store.js';

/** What a section sees: the store under test (made in the suite's `before`) and its settings. */
export interface SuiteContext {
  /** The store under test; valid once the suite's `before` hook has run. */
  store(): Store;
  /** The capabilities the suite goes by: the store's, with `capabilities` given to the suite over them. */
  capabilities(): StoreCapabilities;
  /** Resolution of the engine's expiry in ms (0: exact). */
  granularity: number;
}

/** A fresh session key: random, so tests never meet each other's records. */
export function newKey(): string {
  return `t-${randomBytes(12).toString('base64url')}`;
}

/** A live session to store: two data keys, one minute idle and ten minutes absolute expiry. */
export function record(overrides: Partial<StoredSession> = {}): StoredSession {
  const now = Date.now();
  return {
    data: { name: '"Jack Sparrow"', basket: '["rum"]' },
    createdAt: now,
    expiresAt: now + 60_000,
    absoluteExpiresAt: now + 600_000,
    version: 1,
    ...overrides,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The call fails with a baton error of this `code`, whose message carries the package prefix. */
export async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: { code?: string; message?: string }) => {
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    assert.match(String(err.message), /\[baton-session\]/);
    return true;
  });
}

/** The expiry the store gave back is `expected`, give or take the engine's resolution. */
export function near(actual: number | undefined, expected: number, granularity: number): void {
  assert.ok(
    Math.abs((actual ?? 0) - expected) <= Math.max(granularity, 1),
    `expected about ${expected}, got ${actual}`,
  );
}

/**
 * Skips the running test (with the reason) unless the store declares `flag`; true when it was
 * skipped, so the test returns at once.
 */
export function lacks(ctx: SuiteContext, t: TestContext, flag: keyof StoreCapabilities): boolean {
  if (ctx.capabilities()[flag]) return false;
  t.skip(`the store declares ${flag}: false`);
  return true;
}
