/** The store kit's lock waiters: woken by key, by all, or by their timeout; never rejected, nothing left behind. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Waiters } from '../../src/stores/kit/index.js';

/** Whether `promise` has settled after the microtasks queued so far (no timer passes). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('store kit Waiters', () => {
  it('wake(key) ends the waits on that key only, every one of them', async () => {
    const waiters = new Waiters();
    const a1 = waiters.wait('a', 60_000);
    const a2 = waiters.wait('a', 60_000);
    const b = waiters.wait('b', 60_000);
    assert.equal(waiters.size, 2);
    waiters.wake('a');
    assert.equal(await settled(a1), true);
    assert.equal(await settled(a2), true);
    assert.equal(await settled(b), false);
    assert.equal(waiters.size, 1);
    waiters.wake('nobody-waits-here');
    assert.equal(await settled(b), false);
    waiters.wakeAll();
    assert.equal(await settled(b), true);
    assert.equal(waiters.size, 0);
  });

  it('a wait ends at its timeout when no word comes, and leaves no key behind', async () => {
    const waiters = new Waiters();
    const started = performance.now();
    const soon = waiters.wait('k', 30);
    const later = waiters.wait('k', 60_000);
    await soon;
    assert.ok(performance.now() - started >= 25, 'ended before its timeout');
    assert.equal(await settled(later), false, 'the other waiter on the key keeps waiting');
    assert.equal(waiters.size, 1);
    waiters.wake('k');
    await later;
    assert.equal(waiters.size, 0);
  });

  it('a negative, NaN or infinite timeout ends the wait on the next turn instead of hanging', async () => {
    const waiters = new Waiters();
    for (const ms of [-5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await waiters.wait('k', ms);
    }
    assert.equal(waiters.size, 0);
  });

  it('a woken wait clears its timer: the process is not held for the timeout', async () => {
    const waiters = new Waiters();
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const waiting = waiters.wait('k', 60_000);
    assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before + 1);
    waiters.wake('k');
    await waiting;
    assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before);
  });

  it('close() ends every wait and later waits resolve at once', async () => {
    const waiters = new Waiters();
    const waiting = waiters.wait('k', 60_000);
    assert.equal(waiters.closed, false);
    waiters.close();
    assert.equal(await settled(waiting), true);
    assert.equal(waiters.closed, true);
    assert.equal(
      await settled(waiters.wait('k', 60_000)),
      true,
      'a wait after close is over on the next turn',
    );
    assert.equal(waiters.size, 0);
    waiters.close();
  });
});
