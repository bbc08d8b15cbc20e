/**
 * The lean path's retry loop, driven by the SDK client's own retry strategy
 * (`client.config.retryStrategy()`: `standard` or `adaptive`, its `maxAttempts`, retry quota and
 * jittered backoff). What is retryable follows the SDK's error classification: throttling,
 * transient errors (timeouts, HTTP 500/502/503/504, reset or refused connections).
 * Retrying a write is safe: every store write carries a condition on the item's version or
 * existence, and the store recognises its own earlier attempt when a retry's condition fails.
 */

/** The SDK's `RetryStrategyV2` (`@smithy/types`), as far as the loop uses it. */
export interface RetryStrategy {
  acquireInitialRetryToken(scope: string): Promise<RetryToken>;
  refreshRetryTokenForRetry(token: RetryToken, info: RetryErrorInfo): Promise<RetryToken>;
  recordSuccess(token: RetryToken): void;
}

interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

type RetryErrorType = 'THROTTLING' | 'TRANSIENT' | 'SERVER_ERROR' | 'CLIENT_ERROR';

interface RetryErrorInfo {
  errorType: RetryErrorType;
  error?: unknown;
  retryAfterHint?: Date;
}

// The SDK's classification lists (`@smithy/service-error-classification`).
const THROTTLING = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);

/** How the SDK's retry middleware classifies an error. */
export function classify(err: unknown): RetryErrorType {
  const e = (err ?? {}) as {
    name?: unknown;
    code?: unknown;
    $metadata?: { httpStatusCode?: unknown; clockSkewCorrected?: unknown };
  };
  const status = e.$metadata?.httpStatusCode;
  if (status === 429 || (typeof e.name === 'string' && THROTTLING.has(e.name))) return 'THROTTLING';
  if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return 'TRANSIENT';
  if (e.$metadata?.clockSkewCorrected === true) return 'TRANSIENT';
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return 'TRANSIENT';
  if (typeof status === 'number' && TRANSIENT_STATUS.has(status)) return 'TRANSIENT';
  if (typeof status === 'number' && status >= 500) return 'SERVER_ERROR';
  return 'CLIENT_ERROR';
}

/** Attempts and delays behind one answer, where the store reads them (`$metadata`, as the SDK reports). */
export interface Attempts {
  attempts: number;
  totalRetryDelay: number;
}

/**
 * Runs `attempt` until it succeeds or the strategy refuses another try; the answer or the last
 * error carries `$metadata.attempts`.
 */
export async function withRetries<T extends object>(
  strategy: RetryStrategy,
  attempt: () => Promise<T>,
): Promise<T & { $metadata: Attempts }> {
  let token = await strategy.acquireInitialRetryToken('dynamodb');
  let attempts = 0;
  let totalRetryDelay = 0;
  for (;;) {
    attempts++;
    try {
      const out = (await attempt()) as T & { $metadata: Attempts };
      strategy.recordSuccess(token);
      out.$metadata = { ...out.$metadata, attempts, totalRetryDelay };
      return out;
    } catch (err) {
      const info: RetryErrorInfo = { errorType: classify(err), error: err };
      const hint = retryAfter(err);
      if (hint !== undefined) info.retryAfterHint = hint;
      try {
        token = await strategy.refreshRetryTokenForRetry(token, info);
      } catch {
        const e = err as { $metadata?: Record<string, unknown> };
        if (e !== null && typeof e === 'object') e.$metadata = { ...e.$metadata, attempts, totalRetryDelay };
        throw err;
      }
      // Newer strategies wait inside `refreshRetryTokenForRetry` and hand back a delay of 0.
      const delay = token.getRetryDelay();
      if (delay > 0) {
        totalRetryDelay += delay;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}

/** A `Retry-After` header (seconds or an HTTP date) on an error answer. */
function retryAfter(err: unknown): Date | undefined {
  const value = (err as { $response?: { headers?: Record<string, unknown> } } | null)?.$response?.headers?.[
    'retry-after'
  ];
  if (typeof value !== 'string') return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? Date.now() + seconds * 1000 : Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}
