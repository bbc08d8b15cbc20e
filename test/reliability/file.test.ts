/** The reliability rows on the file store, in a directory of its own; raw dump by reading every file. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { FileStore } from '../../src/stores/file/index.js';
import { reliabilitySuite } from './store-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-rel-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

reliabilitySuite(
  'FileStore',
  async () => {
    const store = new FileStore({ dir, fsync: false });
    await store.ensureTable();
    return store;
  },
  {
    repeat: 10,
    logoutRuns: 200,
    sessions: 300,
    dump: async () =>
      readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .flatMap((e) => {
          const path = join(e.parentPath, e.name);
          return [path, readFileSync(path).toString('latin1')];
        }),
  },
);
