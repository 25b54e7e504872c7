import type { Logger } from 'pino';
import type { Metrics } from './observability/metrics.js';
import { ApiKeys } from './auth/api-keys.js';
import { AuditLog } from './auth/audit.js';
import { createAuthenticator, type Authenticator } from './auth/authenticate.js';
import { createJwtVerifier } from './auth/jwt.js';
import type { Database } from './db/client.js';
import type { EventBus } from './pubsub/pubsub.js';
import { RunService } from './modules/agents/run.service.js';
import { AnswerStreamService } from './modules/agents/answer-stream.service.js';
import { ControlService } from './modules/control/control.service.js';
import { ConversationService } from './modules/conversations/conversation.service.js';
import { ExpertService } from './modules/experts/expert.service.js';
import { MessageHistory } from './modules/messages/message-history.js';
import { MessageService } from './modules/messages/message.service.js';
import { CatchUpReader } from './modules/realtime/catch-up.js';
import { MembershipWatch } from './modules/realtime/membership-watch.js';
import { PresenceService } from './modules/realtime/presence.service.js';
import { TypingService } from './modules/realtime/typing.service.js';
import { UserRepository } from './modules/users/user.repository.js';
import { UserService } from './modules/users/user.service.js';
import { AccountRepository } from './modules/accounts/account.repository.js';
import { AccountService } from './modules/accounts/account.service.js';
import { DEFAULT_RATE_LIMITS, RateLimiter, type RateLimits } from './ratelimit/rate-limiter.js';
import { errorMessage } from './observability/log-errors.js';

/** Everything resolvers call into; built once per process and shared by every request. */
export type Services = {
  database: Database;
  bus: EventBus;
  log: Logger;
  authenticate: Authenticator;
  apiKeys: ApiKeys;
  audit: AuditLog;
  users: UserService;
  presence: PresenceService;
  typing: TypingService;
  membership: MembershipWatch;
  catchUp: CatchUpReader;
  conversations: ConversationService;
  messages: MessageService;
  /** History pages (`messages`, `Conversation.messages`). */
  history: MessageHistory;
  control: ControlService;
  runs: RunService;
  answers: AnswerStreamService;
  experts: ExpertService;
  accounts: AccountService;
  /** Token buckets: mutations and sends (rateLimitPlugin), sign-in attempts. */
  rateLimiter: RateLimiter;
};

export type ServiceOptions = {
  database: Database;
  bus: EventBus;
  log: Logger;
  jwt: { secret?: string; issuer?: string; audience?: string; jwksUrl?: string };
  /** Built-in accounts (signUp / signIn); off unless set. */
  accounts?: { enabled: boolean; org?: string };
  metrics?: Metrics;
  rateLimits?: RateLimits;
};

export function createServices({ database, bus, log, jwt, accounts: accountOptions, metrics, rateLimits }: ServiceOptions): Services {
  const rateLimiter = new RateLimiter(rateLimits ?? DEFAULT_RATE_LIMITS, log, bus.commands);
  const presence = new PresenceService(bus, log, bus.commands);
  const typing = new TypingService(bus, bus.commands);
  const users = new UserService(new UserRepository(database.db), presence, log);
  const apiKeys = new ApiKeys(database.db, log);
  const audit = new AuditLog(database.db);
  const conversations = new ConversationService(database, users, bus);
  const control = new ControlService(database, conversations, bus);
  const runs = new RunService(database, conversations.repo, users, bus);
  control.runs = runs;
  // Late-bound: the message hooks below reach the expert service, which needs the others.
  let experts: ExpertService;
  const bestEffort = (what: string) => (err: Error) => log.warn({ err: errorMessage(err) }, `after a committed write: ${what} failed`);

  const messages = new MessageService(database, conversations, users, bus, {
    // An agent speaking in a run registers it, and may not while the run is paused or ended.
    sendCheck: (viewer, { conversationId, runId, traceId, priority }) => {
      if (viewer.kind !== 'AGENT' || !runId) return null;
      return async () => {
        await runs.requireActive(viewer, conversationId, runId, traceId, priority);
      };
    },
    afterSend: async (viewer, message) => {
      // The send is committed: nothing here may turn it into an error.
      metrics?.messagesSent.inc();
      await typing.stopOnSend(viewer.orgId, viewer.userId, message.conversationId).catch(bestEffort('typing'));
      await experts
        .auditAccess(viewer, message.conversationId, 'expert.write', { operation: 'sendMessage', messageId: message.id })
        .catch(bestEffort('audit'));
      const urgent = message.priority === 'HIGH' || message.priority === 'CRITICAL';
      // The conversation's setting is read only here: the send itself does not read the row.
      const preempts =
        urgent &&
        viewer.kind === 'USER' &&
        (await conversations.repo.access(viewer.orgId, message.conversationId, viewer.userId).catch(() => null))?.conversation
          .preemptOnPriority;
      if (preempts) {
        for (const run of await runs.repo.interruptibleRuns(message.conversationId).catch(() => [])) {
          await control
            .send(viewer, message.conversationId, {
              event: 'PREEMPT',
              runId: run.runId,
              reason: `${message.priority} message ${message.id}`,
              traceId: message.traceId,
            })
            .catch(bestEffort('preempt'));
        }
      }
    },
    // Committed: an audit that fails is logged, not turned into an error.
    afterChange: (viewer, message, change) =>
      experts.auditAccess(viewer, message.conversationId, 'expert.write', { operation: change, messageId: message.id }).catch(bestEffort(`audit of ${change}`)),
  });
  const answers = new AnswerStreamService(database, conversations, messages, bus, users);
  answers.runs = runs;
  answers.afterWrite = (viewer, stream, operation) =>
    experts.auditAccess(viewer, stream.conversationId, 'expert.write', { operation, messageId: stream.id }).catch(bestEffort(`audit of ${operation}`));
  runs.answers = answers;
  experts = new ExpertService(database, conversations, control, runs, audit, bus);
  const accounts = new AccountService(new AccountRepository(database.db), { ...jwt, enabled: accountOptions?.enabled ?? false, org: accountOptions?.org }, log, rateLimiter);
  const authenticate = createAuthenticator({ verifyJwt: createJwtVerifier(jwt), apiKeys, users, audit });
  return {
    database,
    bus,
    log,
    authenticate,
    apiKeys,
    audit,
    users,
    presence,
    typing,
    membership: new MembershipWatch(conversations.repo, log, bus),
    catchUp: new CatchUpReader(messages.repo),
    conversations,
    messages,
    // Expert reads are audited.
    history: new MessageHistory(database, conversations, messages.repo, (viewer, conversationId) => experts.auditAccess(viewer, conversationId, 'expert.read')),
    control,
    runs,
    answers,
    experts,
    accounts,
    rateLimiter,
  };
}
