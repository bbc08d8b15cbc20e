import { createRequire } from 'node:module';
import AWS from 'aws-sdk';
import { dynamodbStore } from '../../src/legacy/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import {
  awsLiteClient,
  CREDENTIALS,
  REGION,
  sdkClient,
  startEngine,
  tableName,
  warnings,
} from '../helpers/dynamodb.js';
import { legacySuite } from '../helpers/legacy-suite.js';

// The package ships no types.
const PeerStore = createRequire(import.meta.url)('dynamodb-store');

legacySuite({
  name: 'dynamodb-store (read through @aws-lite/client)',
  skip: false,
  async open() {
    const engine = await startEngine();
    const client = sdkClient(engine.endpoint);
    const table = tableName('legacy-dynamodb-store');
    // dynamodb-store (AWS SDK v2) creates its table itself, as in production.
    const peer = await new Promise<any>((resolve, reject) => {
      const created: any = new PeerStore(
        {
          table: { name: table },
          dynamoConfig: {
            endpoint: engine.endpoint,
            region: REGION,
            credentials: new AWS.Credentials(CREDENTIALS),
          },
        },
        (err?: Error) => (err ? reject(err) : resolve(created)),
      );
    });
    const store = new DynamoDBStore({ tableName: tableName(), client, onWarning: warnings().onWarning });
    await store.ensureTable();
    return {
      peer,
      source: dynamodbStore({ client: await awsLiteClient(engine.endpoint), table }),
      store,
      async close() {
        await store.close();
        client.destroy();
        await engine.close();
      },
    };
  },
});
