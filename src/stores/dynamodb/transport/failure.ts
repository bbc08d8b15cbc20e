/** A failed call as the store reads it, whichever transport raised it. */
import type { Item } from './types.js';

/** What the store needs to know of a failed call, whichever client raised it. */
export interface CallFailure {
  /** AWS error name (`ConditionalCheckFailedException`, `ThrottlingException`...) or a network code. */
  name: string;
  message: string;
  status?: number;
  /** With `ReturnValuesOnConditionCheckFailure: ALL_OLD`, the item that failed the condition. */
  item?: Item;
}

export function describeFailure(err: unknown): CallFailure {
  if (err === null || typeof err !== 'object') return { name: 'Error', message: String(err) };
  const e = err as Record<string, any>;
  let name = typeof e.name === 'string' && e.name !== 'Error' ? e.name : undefined;
  if (typeof e.code === 'string' && (name === undefined || name === 'Error')) name = e.code;
  if (typeof e.__type === 'string' && name === undefined) name = e.__type.split('#').pop();
  const message = typeof e.message === 'string' ? e.message : String(err);
  // aws-lite reports network errors by message only (`connect ECONNREFUSED 127.0.0.1:8000`).
  name ??= /\b(E[A-Z]{3,})\b/.exec(message)?.[1];
  const failure: CallFailure = { name: name ?? 'Error', message };
  const status = e.$metadata?.httpStatusCode ?? e.statusCode;
  if (typeof status === 'number') failure.status = status;
  if (e.Item !== null && typeof e.Item === 'object') failure.item = e.Item as Item;
  return failure;
}
