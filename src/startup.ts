import type { Config } from './config.js';

/**
 * What a person starting the service reads on stderr, beside the JSON log on stdout (which stays
 * all JSON, for log shippers): where to open it.
 */

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
