/**
 * `baton migrate --from connect-redis://…` as a user runs it: sessions connect-redis stored are
 * copied into a baton Redis store in adoption-ready form; a second run copies 0.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { createClient } from 'redis';
import { adoptionKey } from '../../src/core/legacy.js';
import { RedisStore } from '../../src/stores/redis/index.js';
import { needService } from '../helpers/services.js';
import { baton } from './run.js';

const [host = '127.0.0.1', port = '6379'] = (process.env.BATON_REDIS ?? '127.0.0.1:6379').split(':');
const skip = await needService('Redis', Number(port), host);

describe('baton migrate --from connect-redis://', { skip, timeout: 60_000 }, () => {
  const tag = randomBytes(5).toString('hex');
  const legacyPrefix = `legacy-cli-${tag}:`;
  const batonPrefix = `baton-cli-${tag}:`;
  const client = createClient({ url: `redis://${host}:${port}` });

  after(async () => {
    if (!client.isOpen) return;
    for await (const keys of client.scanIterator({ MATCH: `*-cli-${tag}:*`, COUNT: 500 })) {
      if (keys.length > 0) await client.del(keys);
    }
    await client.close();
  });

  it('copies every live session once; the second run copies 0; --dry-run writes nothing', async () => {
    await client.connect();
    const ids = Array.from({ length: 5 }, (_, i) => `legacy-${i}-${tag}`);
    for (const [i, id] of ids.entries()) {
      const expires = new Date(Date.now() + 3_600_000).toISOString();
      // connect-redis's layout: JSON under prefix + sid, with a TTL.
      await client.set(
        legacyPrefix + id,
        JSON.stringify({ cookie: { expires, path: '/' }, passport: { user: `u${i}` }, basket: [i] }),
        { expiration: { type: 'EX', value: 3600 } },
      );
    }
    const from = `connect-redis://${host}:${port}/0?prefix=${encodeURIComponent(legacyPrefix)}`;
    const to = `redis://${host}:${port}/0?prefix=${encodeURIComponent(batonPrefix)}`;
    const args = ['migrate', '--from', from, '--to', to, '--user-key', 'passport.user', '--json'];

    const dry = await baton([...args, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(JSON.parse(dry.stdout).copied, 5);
    const first = await baton(args);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).copied, 5, 'the dry run wrote nothing');
    const second = await baton(args);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(
      { copied: JSON.parse(second.stdout).copied, skipped: JSON.parse(second.stdout).skipped },
      { copied: 0, skipped: 5 },
    );

    const store = new RedisStore({ client, prefix: batonPrefix });
    for (const id of ids) assert.ok(await store.get(adoptionKey('', id)), 'adoption record written');
    const users = await store.listByUser('u3');
    assert.equal(users.length, 1, 'the user index holds the migrated session');
  });
});
