import pino from 'pino';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { type Database, openDatabase } from '../db/client.js';
import { DataDirInUseError } from '../db/data-dir-lock.js';
import { migrate } from '../db/migrate.js';

/**
 * The configuration and the migrated database for a command that opens the database itself
 * (apikey, webhook). Exits with a line saying what to do when the configuration is bad or the
 * embedded database is in use by a running server; `instead` says what to do then.
 */
export async function openForCommand(command: string, instead: string): Promise<{ config: Config; database: Database; log: pino.Logger }> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(2);
  }
  const log = pino({ level: 'warn' });
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, log }).catch((err) => {
    if (!(err instanceof DataDirInUseError)) throw err;
    console.error(
      `DATA_DIR ${err.dataDir} is in use by process ${err.holder.pid} (a running server?); ${command} opens the database itself: stop the server first, or ${instead}`,
    );
    process.exit(1);
  });
  try {
    await migrate(database);
  } catch (err) {
    await database.close();
    throw err;
  }
  return { config, database, log };
}
