import type { Logger } from 'pino';
import { ApiKeys } from './auth/api-keys.js';
import { AuditLog } from './auth/audit.js';
import { AuditRepository } from './auth/audit.repository.js';
import { createAuthenticator } from './auth/authenticate.js';
import { createJwtVerifier } from './auth/jwt.js';
import type { Database } from './db/client.js';
import { DomainEvents } from './events/emitter.js';
import { defineLoaders } from './lib/loaders.js';
import { createAccountsModule } from './modules/accounts/index.js';
import { createAgentsModule } from './modules/agents/index.js';
import { createControlModule } from './modules/control/index.js';
import { createConversationsModule } from './modules/conversations/index.js';
import { createEvaluationsModule } from './modules/evaluations/index.js';
import { createExpertsModule } from './modules/experts/index.js';
import { createMessagesModule } from './modules/messages/index.js';
import { createReactionsModule } from './modules/reactions/index.js';
import { createRealtimeModule } from './modules/realtime/index.js';
import { createSearchModule } from './modules/search/index.js';
import { createUsersModule } from './modules/users/index.js';
import { createWebhookSubscriptions, createWebhooksModule } from './modules/webhooks/index.js';
import { DEFAULT_WEBHOOK_OPTIONS, type WebhookOptions } from './modules/webhooks/options.js';
import { countMessagesSent } from './observability/messages-sent.js';
import type { Metrics } from './observability/metrics.js';
import type { EventBus } from './pubsub/pubsub.js';
import { DEFAULT_RATE_LIMITS, RateLimiter, type RateLimits } from './ratelimit/rate-limiter.js';

export type ServiceOptions = {
  database: Database;
  bus: EventBus;
  log: Logger;
  jwt: { secret?: string; issuer?: string; audience?: string; jwksUrl?: string };
  /** Built-in accounts (signUp / signIn); off unless set. */
  accounts?: { enabled: boolean; org?: string };
  metrics: Metrics;
  rateLimits?: RateLimits;
  webhooks?: WebhookOptions;
  /** The typing lapse, for tests (see AppOptions.timing). */
  typingTtlMs?: number;
};

/** Everything resolvers call into; built once per process and shared by every request. */
export type Services = ReturnType<typeof createServices>;

/**
 * The modules in dependency order, each given what it uses of those before it. Rules live in the
 * modules; where one reacts to another's writes it registers for a domain event (src/events).
 */
export function createServices({
  database,
  bus,
  log,
  jwt,
  accounts: accountOptions,
  metrics,
  rateLimits,
  webhooks: webhookOptions,
  typingTtlMs,
}: ServiceOptions) {
  const { db } = database;
  const events = new DomainEvents(log);
  const audit = new AuditLog(new AuditRepository(db));
  const apiKeys = new ApiKeys(db, log);
  /** Token buckets: mutations and sends (rateLimitPlugin), sign-in attempts. */
  const rateLimiter = new RateLimiter(rateLimits ?? DEFAULT_RATE_LIMITS, log, bus.commands);

  const { users, presence, loaders: userLoaders } = createUsersModule({ db, bus, log });
  const { conversations, loaders: conversationLoaders } = createConversationsModule({ db, bus, events, users });
  const webhookSubscriptions = createWebhookSubscriptions({ database, bus, log });
  const {
    messages,
    history,
    loaders: messageLoaders,
  } = createMessagesModule({
    database,
    bus,
    events,
    audit,
    users,
    conversations,
    outbox: webhookSubscriptions,
  });
  const { reactions, loaders: reactionLoaders } = createReactionsModule({ db, events, messages });
  const { search } = createSearchModule({ db, audit, conversations });
  const { typing, membership, feeds } = createRealtimeModule({ bus, log, events, audit, conversations, messages, typingTtlMs });
  const {
    runs,
    runEnds,
    answers,
    answerFeed,
    loaders: agentLoaders,
  } = createAgentsModule({
    db,
    bus,
    events,
    audit,
    users,
    conversations,
    messages,
    membership,
  });
  const { control } = createControlModule({ db, bus, log, events, users, conversations, messages, runs, answers });
  const { experts } = createExpertsModule({ db, bus, events, audit, conversations, messages, users, runs, control });
  const { evaluations, loaders: evaluationLoaders } = createEvaluationsModule({ db, events, messages, conversations, experts });
  const { accounts } = createAccountsModule({
    db,
    log,
    rateLimiter,
    options: { ...jwt, enabled: accountOptions?.enabled ?? false, org: accountOptions?.org },
  });
  const { webhooks, webhookDelivery } = createWebhooksModule({
    database,
    log,
    events,
    subscriptions: webhookSubscriptions,
    options: webhookOptions ?? DEFAULT_WEBHOOK_OPTIONS,
  });
  countMessagesSent(events, metrics);

  return {
    database,
    bus,
    log,
    events,
    authenticate: createAuthenticator({ verifyJwt: createJwtVerifier(jwt), apiKeys, users, audit }),
    apiKeys,
    audit,
    rateLimiter,
    users,
    presence,
    conversations,
    messages,
    /** History pages (`messages`, `Conversation.messages`). */
    history,
    reactions,
    /** searchMessages. */
    search,
    typing,
    membership,
    /** The feeds of messageAdded, messageUpdated, messageDeleted, typing and controlEvent. */
    feeds,
    /** Agent runs (`runs`, `Conversation.activeRuns`) and their ends (completeRun, failRun). */
    runs,
    runEnds,
    /** Streamed answers (startMessage, appendMessagePart, appendMessageChunk, completeMessage). */
    answers,
    /** The feed of messageStream. */
    answerFeed,
    control,
    experts,
    evaluations,
    accounts,
    webhooks,
    /** Webhook delivery: started with the server, stopped with it. */
    webhookDelivery,
    /** A request's loaders (see defineLoaders), from every module's. */
    loadersFor: defineLoaders({ ...userLoaders, ...conversationLoaders, ...messageLoaders, ...reactionLoaders, ...agentLoaders, ...evaluationLoaders }),
  };
}
