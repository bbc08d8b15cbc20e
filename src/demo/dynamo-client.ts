/**
 * The DynamoDB client the demo's processes use against the embedded engine: `@aws-lite/client`
 * (a lean client; the store sends DynamoDB wire JSON through it, so no plugin is needed).
 */
import type { AwsLiteClient } from '../stores/dynamodb/index.js';

export async function localDynamoClient(endpoint: string): Promise<AwsLiteClient> {
  const { default: awsLite } = await import('@aws-lite/client');
  const client = await awsLite({
    endpoint,
    region: 'us-east-1',
    // The local engine checks no credentials, but a signed request needs some.
    accessKeyId: 'demo',
    secretAccessKey: 'demo',
    autoloadPlugins: false,
    plugins: [],
  });
  return client as unknown as AwsLiteClient;
}
