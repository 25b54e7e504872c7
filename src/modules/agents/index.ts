import DataLoader from 'dataloader';
import type { AuditLog } from '../../auth/audit.js';
import type { Viewer } from '../../auth/viewer.js';
import type { Db } from '../../db/client.js';
import type { AgentRunRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { groupBy } from '../../lib/loaders.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { MessageService } from '../messages/message.service.js';
import type { MembershipWatch } from '../realtime/membership-watch.js';
import type { UserService } from '../users/user.service.js';
import { AnswerFeed } from './answer-feed.js';
import { AnswerStreamRepository } from './answer-stream.repository.js';
import { AnswerStreamService } from './answer-stream.service.js';
import { outputNeedsActiveRun } from './output-needs-active-run.js';
import { RunRepository } from './run.repository.js';
import { RunService } from './run.service.js';
import { RunEndService } from './run-end.service.js';

/**
 * Agents: their runs, which control events steer (see the control module), and their streamed
 * answers. An agent's message in a run is refused unless the run is ACTIVE: a check registered
 * with messages.
 */
export function createAgentsModule(deps: {
  db: Db;
  bus: EventBus;
  events: DomainEvents;
  audit: AuditLog;
  users: UserService;
  conversations: ConversationService;
  messages: MessageService;
  membership: MembershipWatch;
}) {
  const runRepo = new RunRepository(deps.db);
  const runs = new RunService(runRepo, deps.conversations, deps.events);
  const answers = new AnswerStreamService(new AnswerStreamRepository(deps.db), deps.conversations, deps.messages, runs, deps.bus, deps.users, deps.events);
  const answerFeed = new AnswerFeed({ bus: deps.bus, audit: deps.audit, conversations: deps.conversations, membership: deps.membership, answers });
  deps.messages.addSendCheck(outputNeedsActiveRun(runs));
  return {
    runs,
    runEnds: new RunEndService(runs, answers),
    answers,
    answerFeed,
    loaders: {
      /** `Conversation.activeRuns`. */
      liveRuns: (_viewer: Viewer | null) =>
        new DataLoader<string, AgentRunRow[]>(async (ids) => {
          const groups = groupBy(await runRepo.liveRunsOf(ids), (r) => r.conversationId);
          return ids.map((id) => groups.get(id) ?? []);
        }),
    },
  };
}
