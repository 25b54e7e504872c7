import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import type { Logger } from 'pino';
import { errorMessage } from '../observability/log-errors.js';
import { lockDataDir } from './data-dir-lock.js';
import * as schema from './schema/index.js';

export type Schema = typeof schema;
/** The drizzle database, whichever driver is under it. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction handle has the same query API as the database. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** A statement prepared under its name: parsed and planned once per connection on Postgres. */
export type PreparedStatement = { name: string; sql: string };

export type Database = {
  db: Db;
  kind: 'pglite' | 'postgres';
  /** Statements sent so far; tests read it to prove that a page costs a fixed number of queries. */
  stats: { statements: number };
  /**
   * Runs a prepared statement on whichever driver is under the database, with rows as arrays for
   * a repository's own decoder: values as the driver decodes them, except timestamptz, which stays
   * Postgres' text for parsePgTimestamptz. Counted in `stats` like every drizzle statement.
   */
  queryRows(statement: PreparedStatement, values: unknown[]): Promise<unknown[][]>;
  /** Resolves once the database answers a trivial statement (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
  pool?: pg.Pool;
  pglite?: PGlite;
};

export type DatabaseOptions = {
  /** postgres:// URL; without one the embedded PGlite is used. */
  url?: string;
  /** PGlite folder, locked for this process while open; `undefined` with no url means in memory (tests). */
  dataDir?: string;
  /**
   * For a database in memory: a dump of a migrated PGlite data dir (PGlite.dumpDataDir) to start
   * from instead of an empty one. Tests start many databases, and initdb is most of each start.
   */
  memoryTemplate?: Blob;
  poolMax?: number;
  connectTimeoutMs?: number;
  log: Logger;
};

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const stats = { statements: 0 };
  const logger = { logQuery: () => void stats.statements++ };

  if (options.url) {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolMax ?? 20,
      // Fail fast while Postgres is away instead of queueing requests forever.
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      // Timestamps come back as '…+00', which parsePgTimestamptz decodes without V8's date parser;
      // a server whose zone has a minutes offset ('+05:30') would send every one down the slow path.
      // Values are instants either way. An `options` in DATABASE_URL takes precedence over this
      // one; a PGOPTIONS in the environment does not (set Postgres options in the URL).
      options: '-c TimeZone=UTC',
    });
    // An idle client losing its connection (Postgres restart, pg_terminate_backend) emits 'error'
    // on the pool; without a listener that would crash the process. The pool drops the client.
    pool.on('error', (err) => options.log.warn({ err: errorMessage(err) }, 'postgres idle client error'));
    pool.on('connect', (client) => {
      client.on('error', (err) => options.log.warn({ err: errorMessage(err) }, 'postgres client error'));
    });
    const db = drizzlePg({ client: pool, schema, logger }) as unknown as Db;
    return {
      db,
      kind: 'postgres',
      stats,
      queryRows: async (statement, values) => {
        stats.statements++;
        const result = await pool.query<unknown[]>({ name: statement.name, text: statement.sql, values, rowMode: 'array', types: ROW_TYPES });
        return result.rows;
      },
      ping: () => ping(db),
      pool,
      close: () => pool.end(),
    };
  }

  let unlock = () => {};
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    // PGlite's files take one process at a time (see data-dir-lock.ts).
    unlock = lockDataDir(options.dataDir);
  }
  let pglite: PGlite;
  try {
    pglite = options.memoryTemplate && !options.dataDir ? new PGlite({ loadDataDir: options.memoryTemplate }) : new PGlite(options.dataDir);
    await pglite.waitReady;
  } catch (err) {
    unlock();
    throw err;
  }
  const db = drizzlePglite({ client: pglite, schema, logger }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    stats,
    queryRows: async (statement, values) => {
      stats.statements++;
      const result = await pglite.query<unknown[]>(statement.sql, values, { rowMode: 'array', parsers: PGLITE_PARSERS });
      return result.rows;
    },
    ping: () => ping(db),
    pglite,
    close: async () => {
      try {
        await pglite.close();
      } finally {
        unlock();
      }
    },
  };
}

const ping = async (db: Db) => {
  await db.execute(sql`SELECT 1`);
};

/**
 * How queryRows has pg decode values: timestamptz as Postgres' text, for parsePgTimestamptz (faster
 * than pg-types' own decoder), everything else as pg always does.
 */
const TIMESTAMPTZ = 1184;
const raw = (value: string) => value;
export const ROW_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ ? raw : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};
const PGLITE_PARSERS = { [TIMESTAMPTZ]: raw };
