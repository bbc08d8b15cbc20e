/**
 * The drop-in's expiry rules alone (src/adapters/express-session/expiry.ts): the throttle is a
 * tenth of the session's lifetime (cookie `originalMaxAge` or `ttl`, whichever is smaller, bounded
 * by `touchAfter`), and a cookie-based expiry carries that throttle as grace. The figures are the
 * ones docs/adapters.md states for 30-minute, 1-day and 2-week sessions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expiryOf, lifetimeMs, shouldTouch, throttleMs } from '../../src/adapters/express-session/expiry.js';

const DAY_S = 86_400;
const withCookie = (maxAgeMs: number | null, expires: Date | null = null) => ({
  cookie: { originalMaxAge: maxAgeMs, expires, httpOnly: true, path: '/' },
});

describe('express-session drop-in: the write throttle', () => {
  it('is a tenth of the cookie maxAge or ttl, whichever is smaller', () => {
    assert.equal(throttleMs(withCookie(1_800_000), DAY_S, undefined), 180_000, '30 minutes: 3 min');
    assert.equal(throttleMs(withCookie(DAY_S * 1000), DAY_S, undefined), 8_640_000, '1 day: 2.4 h');
    assert.equal(
      throttleMs(withCookie(14 * DAY_S * 1000), DAY_S, undefined),
      8_640_000,
      '2 weeks, ttl 1 day',
    );
    assert.equal(
      throttleMs(withCookie(14 * DAY_S * 1000), 14 * DAY_S, undefined),
      120_960_000,
      '2 weeks, ttl 2 weeks: 1.4 days',
    );
    assert.equal(throttleMs(withCookie(1_500), DAY_S, undefined), 150, '1.5 s: 150 ms');
  });

  it('uses ttl for a browser-session cookie or a ttl function', () => {
    assert.equal(lifetimeMs(withCookie(null), 3_600), 3_600_000);
    assert.equal(lifetimeMs({}, 3_600), 3_600_000);
    assert.equal(
      lifetimeMs(withCookie(1_500), () => 600),
      600_000,
    );
  });

  it('is bounded by touchAfter (0 writes every touch)', () => {
    assert.equal(throttleMs(withCookie(DAY_S * 1000), DAY_S, 60_000), 60_000);
    assert.equal(throttleMs(withCookie(1_500), DAY_S, 60_000), 150, 'never above a tenth of the lifetime');
    assert.equal(throttleMs(withCookie(1_500), DAY_S, 0), 0);
  });

  it('writes only when the expiry would move by more than the throttle', () => {
    assert.equal(shouldTouch(10_000, 10_150, 150), false);
    assert.equal(shouldTouch(10_000, 10_151, 150), true);
    assert.equal(shouldTouch(10_000, 10_001, 0), true);
  });
});

describe('express-session drop-in: the stored expiry', () => {
  it("is the cookie's expires plus the throttle as grace", () => {
    const now = Date.now();
    const expires = new Date(now + 1_500);
    const at = expiryOf(withCookie(1_500, expires), now, DAY_S, 150);
    assert.ok(Math.abs(at - (expires.getTime() + 150)) <= 5, `${at - expires.getTime()} ms past the cookie`);
  });

  it('is ttl from now for a browser-session cookie, and a ttl function from now, without grace', () => {
    const now = Date.now();
    assert.equal(expiryOf(withCookie(null), now, 3_600, 360_000), now + 3_600_000);
    assert.equal(
      expiryOf(withCookie(1_500, new Date(now + 1_500)), now, () => 60, 6_000),
      now + 60_000,
    );
  });
});
