// Switchboard as an MCP server on stdio, for MCP clients that start their servers as processes:
//   npm run -s mcp -- --url http://localhost:4000/graphql --api-key sk_…   (or --token JWT)
// Flags or environment: --url / SWITCHBOARD_URL, --token / SWITCHBOARD_TOKEN,
// --api-key / SWITCHBOARD_API_KEY, --act-as / SWITCHBOARD_ACT_AS (with an API key).
// It talks to a running Switchboard over its GraphQL API with the typed client, as the identity
// these credentials give, and refuses to start when the server refuses them. stdout carries only
// the protocol (hence `npm run -s`: npm's banner would go there too); messages go to stderr.
import { parseArgs } from 'node:util';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createSwitchboardClient, SwitchboardError } from '../client/index.js';
import { createMcpServer } from './server.js';

const USAGE = 'usage: npm run -s mcp -- [--url URL] (--token JWT | --api-key KEY [--act-as USER])';

const options = {
  url: { type: 'string', default: process.env.SWITCHBOARD_URL || 'http://localhost:4000/graphql' },
  token: { type: 'string', default: process.env.SWITCHBOARD_TOKEN || undefined },
  'api-key': { type: 'string', default: process.env.SWITCHBOARD_API_KEY || undefined },
  'act-as': { type: 'string', default: process.env.SWITCHBOARD_ACT_AS || undefined },
} as const;
let values: ReturnType<typeof parseArgs<{ options: typeof options }>>['values'];
try {
  ({ values } = parseArgs({ options }));
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const { url, token } = values;
const apiKey = values['api-key'];
const actAs = values['act-as'];
if (!token === !apiKey) {
  console.error(`Give either a token or an API key.\n${USAGE}`);
  process.exit(2);
}

const client = createSwitchboardClient({ url: url!, token, apiKey, actAs });
let viewer: Awaited<ReturnType<typeof client.viewer>>;
try {
  viewer = await client.viewer();
} catch (err) {
  const why = err instanceof SwitchboardError ? `${err.code}: ${err.message}` : (err as Error).message;
  console.error(`cannot sign in at ${url}: ${why}`);
  process.exit(1);
}
console.error(`switchboard MCP server on stdio, as ${viewer.id} (${viewer.kind}) at ${url}`);

const server = createMcpServer(client, viewer);
await server.connect(new StdioServerTransport());
// The client closing stdin is the end of the session.
process.stdin.on('end', () => void server.close().finally(() => process.exit(0)));
