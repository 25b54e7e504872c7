// What the agent suites share: a server with a person and two agents, and their conversations.
import {
  ControlEventsDocument,
  CreateConversationDocument,
  SendControlDocument,
  type SendControlMutation,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import { dataOf, type GqlResult, startServer, type TestServer } from '../../kit/server.js';
import type { Backend } from '../../kit/services.js';

export type AgentWorld = {
  server: TestServer;
  /** uma, a person, who owns the conversations. */
  user: string;
  /** assistant, an agent. */
  agent: string;
  /** other-bot, another agent. */
  otherAgent: string;
  /** A new GROUP of uma's with both agents in it. */
  newConversation(): Promise<string>;
  control(as: string, conversationId: string, input: Record<string, unknown>): Promise<GqlResult<SendControlMutation>>;
  /** How many control events the conversation has stored. */
  controlCount(conversationId: string): Promise<number>;
};

/** Starts a server and provisions uma, assistant and other-bot. */
export async function agentWorld(backend: Backend): Promise<AgentWorld> {
  const server = await startServer({ backend });
  const user = await server.token('uma', { name: 'Uma' });
  const agent = await server.token('assistant', { kind: 'agent', name: 'Assistant' });
  const otherAgent = await server.token('other-bot', { kind: 'agent' });
  for (const t of [user, agent, otherAgent]) dataOf(await server.gql(t, ViewerDocument));
  return {
    server,
    user,
    agent,
    otherAgent,
    newConversation: async () =>
      dataOf(
        await server.gql(user, CreateConversationDocument, {
          input: { type: 'GROUP', name: 'agents', participantIds: ['assistant', 'other-bot'] },
        }),
      ).createConversation.id,
    control: (as, conversationId, input) => server.gql(as, SendControlDocument, { conversationId, input: input as never }),
    controlCount: async (conversationId) => dataOf(await server.gql(user, ControlEventsDocument, { conversationId })).controlEvents.nodes.length,
  };
}
