export type { Compression } from './codec.js';
export { DynamoDBStore } from './dynamodb-store.js';
export type { LocalDynamo, LocalDynamoOptions, LocalEngine } from './local.js';
export { LOCAL_ENGINES, startLocalDynamo } from './local.js';
export type { DynamoDBStoreOptions } from './options.js';
export type { BillingOptions, TableDescription } from './table.js';
export type { AwsLiteClient, DynamoDBClientConfig, SdkV3Client } from './transport.js';
export { optionsFromUrl } from './url.js';
