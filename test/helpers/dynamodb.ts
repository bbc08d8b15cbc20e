/**
 * DynamoDB test fixtures: dynalite in this process on a free port, clients of both kinds, and a
 * random table name per store so test files sharing the engine never meet.
 */
import { randomBytes } from 'node:crypto';
import awsLite from '@aws-lite/client';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { type LocalDynamo, startLocalDynamo } from '../../src/stores/dynamodb/index.js';
import type { AwsLiteClient } from '../../src/stores/dynamodb/transport.js';

export const REGION = 'us-east-1';
export const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export function startEngine(): Promise<LocalDynamo> {
  return startLocalDynamo({ port: 0, memory: true });
}

export function tableName(prefix = 'baton-test'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

export function sdkClient(endpoint: string, extra: Partial<DynamoDBClientConfig> = {}): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: REGION, credentials: CREDENTIALS, ...extra });
}

const DYNAMODB_PLUGIN = '@aws-lite/dynamodb';

export async function awsLiteClient(
  endpoint: string,
  extra: { responseContentType?: string } = {},
): Promise<AwsLiteClient> {
  const client = await awsLite({
    endpoint,
    region: REGION,
    ...CREDENTIALS,
    ...extra,
    autoloadPlugins: false,
    plugins: [import(DYNAMODB_PLUGIN)],
  });
  return client;
}

/** Quiet warnings collector for `onWarning`. */
export function warnings(): { list: string[]; onWarning: (message: string) => void } {
  const list: string[] = [];
  return { list, onWarning: (message) => list.push(message) };
}
