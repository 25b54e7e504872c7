import { createRequire } from 'node:module';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { SwitchboardClient } from '../client/index.js';
import { registerTools } from './tools.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const INSTRUCTIONS =
  'Switchboard is a messaging service where people, AI agents and human experts talk in conversations. ' +
  'Find conversations with list_conversations, read them with read_history, answer with send_message, ' +
  'and follow a conversation by calling wait_for_messages with the lastSeq you have seen; search finds messages by their words. ' +
  'When a person needs a human, call request_expert.';

/**
 * An MCP server whose tools act as `viewer`, the identity `client` is signed in as; the
 * instructions name it, so that a model tells its own messages from the others'.
 */
export function createMcpServer(client: SwitchboardClient, viewer: { id: string; displayName: string }): McpServer {
  const instructions = `${INSTRUCTIONS} You act as ${JSON.stringify(viewer.displayName)} (user id ${JSON.stringify(viewer.id)}): messages whose sender.id is that are yours.`;
  const server = new McpServer({ name: 'switchboard', version }, { instructions });
  registerTools(server, client);
  return server;
}
