/**
 * WORKERS > 1: this process, the primary, forks that many workers, each running the whole service
 * (src/main.ts) on the same port; the primary accepts the connections and hands them out in turn.
 * Workers share state the way separate instances do, through Postgres and Redis. The primary
 * serves nothing itself: it keeps the workers running, stops them on SIGTERM or SIGINT, and
 * gathers their metrics for /metrics.
 */
import cluster, { type Worker } from 'node:cluster';
import pino from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Config } from './config.js';
import { EXIT_CONFIG, printStartupLine } from './startup.js';

/** A worker that dies before it has been listening this long failed to start. */
const STARTUP_MS = 10_000;
/** Failed starts in a row after which the primary gives up instead of forking forever. */
const MAX_FAILED_STARTS = 5;
/** Added to SHUTDOWN_GRACE_MS: app.stop() also gives sockets up to 7 s and closes connections. */
const STOP_MARGIN_MS = 10_000;
/** A safety net only: the primary answers within prom-client's own 5 s per request. */
const METRICS_TIMEOUT_MS = 10_000;

const METRICS_REQUEST = 'switchboard:metrics-request';
const METRICS_RESPONSE = 'switchboard:metrics-response';

type MetricsRequest = { type: typeof METRICS_REQUEST; id: number };
type MetricsResponse = { type: typeof METRICS_RESPONSE; id: number; text?: string; error?: string };

/** Forks `config.workers` workers and looks after them until a signal stops them all. */
export function runPrimary(config: Config): void {
  const log = pino({ level: config.logLevel, base: { service: 'switchboard' } });
  const aggregator = new AggregatorRegistry();
  /** Live workers, with when each began listening. */
  const workers = new Map<Worker, number | undefined>();
  let failedStarts = 0;
  let stopping: { signal: NodeJS.Signals; failed: boolean } | undefined;

  const fork = () => workers.set(cluster.fork(), undefined);
  const finish = () => {
    log.info({ failed: stopping!.failed }, 'all workers stopped');
    process.exit(stopping!.failed ? 1 : 0);
  };
  const killAll = () => {
    stopping!.failed = true;
    for (const worker of workers.keys()) worker.process.kill('SIGKILL');
  };
  const stop = (signal: NodeJS.Signals, failed: boolean) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: killing the workers');
      killAll();
      return;
    }
    stopping = { signal, failed };
    log.info({ signal, workers: workers.size }, 'stopping the workers');
    if (workers.size === 0) return finish();
    // Each worker stops itself gracefully on the signal, as a single instance does.
    for (const worker of workers.keys()) worker.process.kill(signal);
    const timeoutMs = config.shutdownGraceMs + STOP_MARGIN_MS;
    setTimeout(() => {
      log.error({ timeoutMs }, 'workers did not stop in time: killing them');
      killAll();
    }, timeoutMs);
  };

  let announced = false;
  cluster.on('listening', (worker, address) => {
    workers.set(worker, Date.now());
    if (!announced) {
      announced = true;
      printStartupLine(config, address.port);
    }
    log.info({ worker: worker.id, pid: worker.process.pid }, 'worker started');
    // A start that lasts ends the run of failed ones, even if no worker dies later to say so.
    setTimeout(() => {
      if (workers.has(worker)) failedStarts = 0;
    }, STARTUP_MS).unref();
  });
  cluster.on('exit', (worker, code, signal) => {
    const listeningSince = workers.get(worker);
    workers.delete(worker);
    const exit = { worker: worker.id, pid: worker.process.pid, code, signal };
    if (stopping) {
      // Dying of the forwarded signal is stopping too: a worker still starting has no handler yet.
      // So is failing to start with the configuration that made the primary stop (EXIT_CONFIG).
      if (code !== 0 && code !== EXIT_CONFIG && signal !== stopping.signal) {
        stopping.failed = true;
        log.error(exit, 'worker failed to stop');
      }
      if (workers.size === 0) finish();
      return;
    }
    if (code === EXIT_CONFIG) {
      // Every worker has the same configuration (a port in use, say): another would fail alike.
      log.fatal(exit, 'a worker cannot start with this configuration: giving up');
      stop('SIGTERM', true);
      return;
    }
    if (listeningSince === undefined || Date.now() - listeningSince < STARTUP_MS) failedStarts++;
    if (failedStarts >= MAX_FAILED_STARTS) {
      log.fatal({ ...exit, failedStarts }, 'workers keep dying as they start: giving up');
      stop('SIGTERM', true);
      return;
    }
    log.error(exit, 'worker exited: starting another');
    fork();
  });
  cluster.on('message', (worker, message: Partial<MetricsRequest> | null) => {
    if (message?.type !== METRICS_REQUEST) return;
    const answer = (result: Pick<MetricsResponse, 'text' | 'error'>) =>
      // The callback takes the error of a worker gone meanwhile, which nobody waits for then.
      worker.send({ type: METRICS_RESPONSE, id: message.id, ...result } satisfies Partial<MetricsResponse>, () => {});
    aggregator.clusterMetrics().then(
      (text) => answer({ text }),
      (err: Error) => answer({ error: err.message }),
    );
  });

  process.on('SIGTERM', () => stop('SIGTERM', false));
  process.on('SIGINT', () => stop('SIGINT', false));
  log.info({ pid: process.pid, workers: config.workers }, 'starting workers');
  for (let i = 0; i < config.workers; i++) fork();
}

/** Set in a worker of runPrimary's: only then is there a primary to gather metrics. */
let inCluster = false;
let nextRequest = 0;
const waiting = new Map<number, (response: MetricsResponse) => void>();

/**
 * In a worker, before the app starts: from now on the primary's requests for this worker's
 * metrics are answered, with none until the returned function hands over the app's registry, so
 * that a worker still starting does not hold /metrics up for prom-client's 5 s timeout.
 */
export function joinCluster(): (registry: Registry) => void {
  inCluster = true;
  // Its constructor installs prom-client's listener for the primary's requests.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([]);
  process.on('message', (message: Partial<MetricsResponse> | null) => {
    if (message?.type === METRICS_RESPONSE) waiting.get(message.id!)?.(message as MetricsResponse);
  });
  return (registry) => AggregatorRegistry.setRegistries([registry]);
}

/** The metrics of every worker together, gathered by the primary; undefined outside a cluster. */
export function clusterMetricsText(): Promise<string> | undefined {
  if (!inCluster) return undefined;
  const id = nextRequest++;
  return new Promise((resolve, reject) => {
    const settle = (response: Pick<MetricsResponse, 'text' | 'error'>) => {
      clearTimeout(timer);
      waiting.delete(id);
      if (response.text !== undefined) resolve(response.text);
      else reject(new Error(`cluster metrics: ${response.error}`));
    };
    const timer = setTimeout(() => settle({ error: 'the primary did not answer' }), METRICS_TIMEOUT_MS);
    waiting.set(id, settle);
    process.send!({ type: METRICS_REQUEST, id } satisfies MetricsRequest, undefined, undefined, (err: Error | null) => {
      if (err) settle({ error: err.message });
    });
  });
}
