import type { Config } from './config.js';

/**
 * What a person starting the service reads on stderr, beside the JSON log on stdout (which stays
 * all JSON, for log shippers): where to open it, and why it could not start.
 */

/**
 * The exit code of a process that cannot start with its configuration (a bad variable, a port in
 * use): a cluster's primary gives up on it instead of starting another worker.
 */
export const EXIT_CONFIG = 2;

/** The host to put in a URL for the address the server listens on. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

/** One line with the URLs of GraphQL, GraphiQL and the web chat (those that are on). */
export function startupLine(config: Pick<Config, 'host' | 'graphiql' | 'webChat'>, port: number): string {
  const base = `http://${urlHost(config.host)}:${port}`;
  const parts = [`GraphQL ${base}/graphql`];
  if (config.graphiql) parts.push(`GraphiQL ${base}/graphql in a browser`);
  if (config.webChat) parts.push(`web chat ${base}/`);
  return `Switchboard is running: ${parts.join(', ')}`;
}

/** Writes the startup line to stderr, unless LOG_LEVEL=silent asked for quiet. */
export function printStartupLine(config: Pick<Config, 'host' | 'graphiql' | 'webChat' | 'logLevel'>, port: number): void {
  if (config.logLevel !== 'silent') process.stderr.write(`${startupLine(config, port)}\n`);
}

/**
 * For a listen error that the configuration can fix, one line saying which variable to change;
 * undefined for any other error.
 */
export function listenProblem(err: unknown, config: Pick<Config, 'host' | 'port'>): string | undefined {
  const where = `port ${config.port} on ${config.host}`;
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'EADDRINUSE':
      return `switchboard cannot start: ${where} is already in use. Set PORT to a free port (or HOST to another interface), or stop what is using it.`;
    case 'EACCES':
      return `switchboard cannot start: not allowed to listen on ${where}. Set PORT to 1024 or above.`;
    case 'EADDRNOTAVAIL':
      return `switchboard cannot start: HOST ${config.host} is not an address of this machine. Set HOST to one of its addresses, or 0.0.0.0 for all.`;
    default:
      return undefined;
  }
}
