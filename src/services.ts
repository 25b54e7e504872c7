import type { Logger } from 'pino';
import type { Metrics } from './observability/metrics.js';
import { ApiKeys } from './auth/api-keys.js';
import { AuditLog } from './auth/audit.js';
import { AuditRepository } from './auth/audit.repository.js';
import { createAuthenticator, type Authenticator } from './auth/authenticate.js';
import { createJwtVerifier } from './auth/jwt.js';
import type { Database } from './db/client.js';
import type { EventBus } from './pubsub/pubsub.js';
import { RunService } from './modules/agents/run.service.js';
import { AnswerStreamRepository } from './modules/agents/answer-stream.repository.js';
import { AnswerStreamService } from './modules/agents/answer-stream.service.js';
import { ControlService } from './modules/control/control.service.js';
import { ConversationService } from './modules/conversations/conversation.service.js';
import { ExpertRepository } from './modules/experts/expert.repository.js';
import { ExpertService } from './modules/experts/expert.service.js';
import { MessageHistory } from './modules/messages/message-history.js';
import { MessageHistoryRepository } from './modules/messages/message-history.repository.js';
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
import { DomainEvents } from './events/emitter.js';
import { outputNeedsActiveRun } from './modules/agents/output-needs-active-run.js';
import { preemptOnPriority } from './modules/control/preempt-on-priority.js';
import { auditExpertWrites } from './modules/experts/audit-writes.js';
import { typingStopsOnSend } from './modules/realtime/typing-stops-on-send.js';
import { countMessagesSent } from './observability/messages-sent.js';

/** Everything resolvers call into; built once per process and shared by every request. */
export type Services = {
  database: Database;
  bus: EventBus;
  log: Logger;
  /** Domain events (src/events): what other modules react to. */
  events: DomainEvents;
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
  const events = new DomainEvents(log);
  const rateLimiter = new RateLimiter(rateLimits ?? DEFAULT_RATE_LIMITS, log, bus.commands);
  const presence = new PresenceService(bus, log, bus.commands);
  const typing = new TypingService(bus, bus.commands);
  const users = new UserService(new UserRepository(database.db), presence, log);
  const apiKeys = new ApiKeys(database.db, log);
  const audit = new AuditLog(new AuditRepository(database.db));
  const conversations = new ConversationService(database, users, bus, events);
  const runs = new RunService(database, events);
  const messages = new MessageService(database, conversations, users, bus, events);
  messages.addSendCheck(outputNeedsActiveRun(runs));
  const answers = new AnswerStreamService(new AnswerStreamRepository(database.db), conversations, messages, runs, bus, users, events);
  const control = new ControlService(database, conversations, users, messages, runs, answers, bus, events);
  const experts = new ExpertService(new ExpertRepository(database.db), conversations, control, runs, audit, bus, events);
  events.on('messageCommitted', typingStopsOnSend(typing));
  auditExpertWrites(events, audit);
  events.on('messageCommitted', preemptOnPriority({ conversations, runs, control, log }));
  if (metrics) countMessagesSent(events, metrics);
  const accounts = new AccountService(new AccountRepository(database.db), { ...jwt, enabled: accountOptions?.enabled ?? false, org: accountOptions?.org }, log, rateLimiter);
  const authenticate = createAuthenticator({ verifyJwt: createJwtVerifier(jwt), apiKeys, users, audit });
  return {
    database,
    bus,
    log,
    events,
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
    history: new MessageHistory(new MessageHistoryRepository(database), conversations, messages.repo, audit),
    control,
    runs,
    answers,
    experts,
    accounts,
    rateLimiter,
  };
}
