import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import connectDynamoDBStore from 'connect-dynamodb';
import expressSession from 'express-session';
import { connectDynamoDB } from '../../src/legacy/index.js';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import { sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';
import { legacySuite } from '../helpers/legacy-suite.js';

legacySuite({
  name: 'connect-dynamodb',
  skip: false,
  async open() {
    const engine = await startEngine();
    const client = sdkClient(engine.endpoint);
    const table = tableName('legacy-connect');
    // The table connect-dynamodb would create for itself (hash key `id`), made up front.
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const PeerStore = connectDynamoDBStore({ Store: expressSession.Store } as never) as any;
    const peer = new PeerStore({ client, table });
    const store = new DynamoDBStore({ tableName: tableName(), client, onWarning: warnings().onWarning });
    await store.ensureTable();
    return {
      peer,
      source: connectDynamoDB({ client, table }),
      store,
      async close() {
        await store.close();
        client.destroy();
        await engine.close();
      },
    };
  },
});
