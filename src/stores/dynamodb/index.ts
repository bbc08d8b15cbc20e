export type { LocalDynamo, LocalDynamoOptions } from './local.js';
export { startLocalDynamo } from './local.js';
