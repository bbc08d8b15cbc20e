/**
 * DynamoDB's answers turned into ours: a failed condition (with the item the engine returned),
 * a validation error a caller handles itself, an item over 400 KB, and everything else as a
 * `StoreUnavailableError` naming the operation, the table and the AWS error.
 */
import {
  ConflictError,
  NotSupportedError,
  SessionTooLargeError,
  StoreUnavailableError,
} from '../../core/errors.js';
import { MAX_ITEM_BYTES } from './codec.js';
import { describeFailure, type Item, type Operation } from './transport.js';

const SCOPE = 'dynamodb';

/** A conditional write found the item not as required; `item` is what is there (when known). */
export class ConditionFailed extends Error {
  constructor(
    readonly item: Item | undefined,
    /** Whether the error carried its consumed capacity (already reported). */
    readonly charged: boolean,
  ) {
    super('condition failed');
  }
}

/** A ValidationException a caller asked to handle itself. */
export class ValidationFailed extends Error {}

/**
 * The error to throw for a failed call: `ConditionFailed`, `SessionTooLargeError`,
 * `ValidationFailed` (when `handleValidation`), else `StoreUnavailableError`. Reports the capacity
 * units the error carried.
 */
export function failureOf(
  tableName: string,
  operation: Operation,
  err: unknown,
  report: (units: number) => void,
  handleValidation: boolean,
): Error {
  const failure = describeFailure(err);
  const units = (err as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity?.CapacityUnits;
  if (typeof units === 'number') report(units);
  if (failure.name === 'ConditionalCheckFailedException') {
    return new ConditionFailed(failure.item, typeof units === 'number');
  }
  if (failure.name === 'ValidationException') {
    if (/item size/i.test(failure.message)) {
      return new SessionTooLargeError(MAX_ITEM_BYTES + 1, MAX_ITEM_BYTES, { scope: SCOPE, cause: err });
    }
    if (handleValidation) return new ValidationFailed(failure.message, { cause: err });
  }
  return unavailable(tableName, operation, err);
}

/** Any other failure: the table is missing, or the call failed (with the AWS error's name). */
export function unavailable(tableName: string, operation: Operation, err: unknown): StoreUnavailableError {
  const failure = describeFailure(err);
  if (failure.name === 'ResourceNotFoundException') {
    return new StoreUnavailableError(
      `table \`${tableName}\` does not exist (${operation}): create it with \`baton create-table\` or \`await store.ensureTable()\`, or check \`tableName\` and the Region`,
      { scope: SCOPE, cause: err },
    );
  }
  const status = failure.status === undefined ? '' : ` (HTTP ${failure.status})`;
  return new StoreUnavailableError(
    `DynamoDB ${operation} on \`${tableName}\` failed: ${failure.name}${status}: ${failure.message}`,
    { scope: SCOPE, cause: err },
  );
}

/** `listByUser` on a table without the user index. */
export function noIndex(
  tableName: string,
  indexName: string,
  user: string,
  cause?: unknown,
): NotSupportedError {
  return new NotSupportedError(
    `table \`${tableName}\` has no index \`${indexName}\` on \`${user}\`, which listByUser needs: add it with \`baton create-table\` or \`await store.ensureTable()\` (or in the AWS console: a global secondary index with partition key \`${user}\` (String))`,
    { scope: SCOPE, cause },
  );
}

/** A patch whose item changed under every one of its bounded attempts. */
export function keptChanging(): ConflictError {
  return new ConflictError('the session kept changing while this patch was applied; try again', {
    scope: SCOPE,
  });
}

/** HTTP attempts behind one answer (the AWS SDK's `$metadata.attempts`, retries included); 1 where unknown. */
export function sdkAttempts(answer: unknown): number {
  const attempts = (answer as { $metadata?: { attempts?: unknown } } | null)?.$metadata?.attempts;
  return typeof attempts === 'number' && attempts > 0 ? attempts : 1;
}
