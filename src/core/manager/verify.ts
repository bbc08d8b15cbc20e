/**
 * Cookie and token verification: the id and store key of a signed value (a returning value skips
 * the HMAC and the key hash), and guessing detection over failed verifications (option `bruteForce`).
 */
import type { EventEmitter } from 'node:events';
import type { SessionEvents } from '../events.js';
import { unsign, type VerifiedKey, VerifiedValues } from '../ids.js';
import type { ResolvedOptions } from '../options.js';

/** How many verified cookie values a manager remembers: about 250 bytes each. */
const VERIFIED_VALUES = 4096;

export class Verifier {
  readonly options: ResolvedOptions;
  readonly #keyFor: (id: string) => string;
  readonly #events: EventEmitter<SessionEvents>;
  /** Cookie values verified before (bounded): a returning one skips the HMAC and the key hash. */
  readonly #verified = new VerifiedValues(VERIFIED_VALUES);
  /** Times of the most recent failed verifications (a ring of `threshold + 1`), for guessing detection. */
  readonly #failures: number[] = [];
  #failureAt = 0;
  #lastBruteForce = Number.NEGATIVE_INFINITY;

  constructor(options: ResolvedOptions, keyFor: (id: string) => string, events: EventEmitter<SessionEvents>) {
    this.options = options;
    this.#keyFor = keyFor;
    this.#events = events;
  }

  /** The id and store key of a signed cookie or token value, or null when no secret verifies it. */
  verify(raw: string): VerifiedKey | null {
    const known = this.#verified.get(raw);
    if (known) return known;
    const verified = unsign(raw, this.options.secrets);
    if (!verified) return null;
    const entry: VerifiedKey = { id: verified.id, stale: verified.stale, key: this.#keyFor(verified.id) };
    this.#verified.set(raw, entry);
    return entry;
  }

  /** Guessing detection: `bruteForce` fires when more than `threshold` verifications fail within the window. */
  countFailure(): void {
    const policy = this.options.bruteForce;
    if (!policy) return;
    const now = Date.now();
    const size = policy.threshold + 1;
    const ring = this.#failures;
    ring[this.#failureAt] = now;
    this.#failureAt = (this.#failureAt + 1) % size;
    if (ring.length < size) return;
    // The ring holds the last threshold+1 failures; the next slot is the oldest of them.
    const oldest = ring[this.#failureAt] as number;
    if (now - oldest > policy.windowMs || now - this.#lastBruteForce < policy.windowMs) return;
    this.#lastBruteForce = now;
    this.options.logger?.warn(
      { code: 'BATON_BRUTE_FORCE', scope: 'manager', failures: size, windowMs: policy.windowMs },
      `[baton-session] ${size} cookies or tokens failed verification within ${policy.windowMs / 1000} s`,
    );
    this.#events.emit('bruteForce', {
      failures: size,
      windowMs: policy.windowMs,
      threshold: policy.threshold,
    });
  }
}
