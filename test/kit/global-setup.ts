import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { redisClusterAvailable, startRedisCluster } from './redis-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A tarball of a migrated PGlite data dir: see memoryTemplate() in pglite-template.ts. */
    pgliteTemplate: string;
    /** REDIS_CLUSTER_NODES of the Redis Cluster started for TEST_REDIS_CLUSTER=true, else ''. */
    redisClusterNodes: string;
  }
}

const root = new URL('../../', import.meta.url).pathname;

/**
 * Before any test file runs: a PGlite data dir with every migration applied, dumped once, from
 * which each test database in memory starts instead of running initdb and the migrations. Kept
 * between runs under node_modules/.cache, named by the migrations and the PGlite version.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  project.provide('pgliteTemplate', await templateFile());
  project.provide('redisClusterNodes', '');
  if (process.env.TEST_REDIS_CLUSTER !== 'true') return undefined;
  if (!(await redisClusterAvailable())) throw new Error('TEST_REDIS_CLUSTER=true needs redis-server and redis-cli');
  const cluster = await startRedisCluster();
  project.provide('redisClusterNodes', cluster.env);
  return cluster.stop;
}

async function templateFile(): Promise<string> {
  const dir = join(root, 'node_modules/.cache/switchboard');
  const file = join(dir, `pglite-${await migrationsHash()}.tar`);
  if (await stat(file).catch(() => null)) return file;
  const database = await openDatabase({ log: pino({ level: 'silent' }) });
  try {
    await migrate(database);
    const dump = await database.pglite!.dumpDataDir('none');
    await mkdir(dir, { recursive: true });
    // Written aside and renamed: a run that reads it never sees half a file.
    const partial = `${file}.${process.pid}`;
    await writeFile(partial, new Uint8Array(await dump.arrayBuffer()));
    await rename(partial, file);
  } finally {
    await database.close();
  }
  return file;
}

/** Changes with any migration (SQL or journal) and with the PGlite release. */
async function migrationsHash(): Promise<string> {
  const hash = createHash('sha256');
  const pglite = JSON.parse(await readFile(join(root, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')) as { version: string };
  hash.update(pglite.version);
  for (const sub of ['drizzle', 'drizzle/meta']) {
    for (const name of (await readdir(join(root, sub))).sort()) {
      if (!/\.(sql|json)$/.test(name)) continue;
      hash.update(`${sub}/${name}\0`).update(await readFile(join(root, sub, name)));
    }
  }
  return hash.digest('hex').slice(0, 16);
}
