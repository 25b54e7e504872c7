import cluster from 'node:cluster';
import { joinCluster, runPrimary } from './cluster.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { DataDirInUseError } from './db/data-dir-lock.js';
import { EXIT_CONFIG, listenProblem, printStartupLine } from './startup.js';

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
  if (config.workers > 1 && cluster.isPrimary) {
    runPrimary(config);
    return;
  }
  const shareMetrics = config.workers > 1 ? joinCluster() : undefined;
  // Imported here: a primary serves nothing and need not load the service.
  const { createApp } = await import('./app.js');
  const app = await createApp(config);
  shareMetrics?.(app.metrics.registry);
  let port: number;
  try {
    ({ port } = await app.start());
  } catch (err) {
    const problem = listenProblem(err, config);
    if (!problem) throw err;
    // A configuration problem, said in a line without a stack.
    console.error(problem);
    await app.stop().catch(() => {});
    process.exit(EXIT_CONFIG);
  }
  // With WORKERS > 1 the primary prints it, once for the deployment.
  if (!shareMetrics) printStartupLine(config, port);

  let signalled = false;
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    app.services.log.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (err) => {
        app.services.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  // Another process has the embedded database: its one line says what to do.
  if (err instanceof DataDirInUseError) console.error(err.message);
  else console.error('switchboard failed to start:', err);
  process.exit(1);
});
