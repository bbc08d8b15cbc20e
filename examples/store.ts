// The store the examples share. With DYNAMODB_ENDPOINT set (`npx baton local`, or DynamoDB Local,
// serves DynamoDB on http://127.0.0.1:8000), every instance you start shares one table: start two on
// different PORTs and log in on one, the other knows you. Without it, an in-process memory store.
import type { Store } from 'baton-session';
import { DynamoDBStore } from 'baton-session/dynamodb';
import { MemoryStore } from 'baton-session/memory';

export async function exampleStore(): Promise<Store> {
  const endpoint = process.env.DYNAMODB_ENDPOINT;
  if (!endpoint) return new MemoryStore();
  const store = new DynamoDBStore({
    tableName: process.env.SESSIONS_TABLE ?? 'sessions',
    clientConfig: {
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    },
  });
  await store.ensureTable(); // creates the table on first use; does nothing when it is ready
  return store;
}

export const secret = process.env.SESSION_SECRET ?? 'change-me-to-32-or-more-characters!!';
