/**
 * Runs a test body only when its engine answers; otherwise a visible skip, or a failing test
 * when BATON_REQUIRE_SERVICES=1 (CI, where every engine must be up).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';

export const postgresUrl = process.env.BATON_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const mysqlUrl = process.env.BATON_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** A table name no other test file uses. */
export function randomTableName(prefix = 'baton_test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export async function withService(
  name: string,
  where: string,
  probe: () => Promise<void>,
  body: () => void,
): Promise<void> {
  let problem: string | undefined;
  try {
    await probe();
  } catch (err) {
    problem = `${name} not reachable on ${where}: ${(err as Error).message || String(err)}`;
  }
  if (problem === undefined) return body();
  if (process.env.BATON_REQUIRE_SERVICES === '1') {
    const message = problem;
    describe(name, () => {
      it('is reachable (BATON_REQUIRE_SERVICES=1)', () => assert.fail(message));
    });
    return;
  }
  console.log(`# SKIP ${problem}`);
  describe(name, { skip: problem }, () => {});
}

/** Host and port of a URL, for messages (no credentials). */
export function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port}`;
  } catch {
    return 'the configured URL';
  }
}
