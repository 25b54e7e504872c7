import type { Logger } from 'pino';
import { ApiKeys } from './auth/api-keys.js';
import { AuditLog } from './auth/audit.js';
import { createAuthenticator, type Authenticator } from './auth/authenticate.js';
import { createJwtVerifier } from './auth/jwt.js';
import type { Database } from './db/client.js';
import type { EventBus } from './pubsub/pubsub.js';
import { ControlService } from './modules/control/control.service.js';
import { ConversationService } from './modules/conversations/conversation.service.js';
import { MessageService } from './modules/messages/message.service.js';
import { PresenceService } from './modules/realtime/presence.service.js';
import { TypingService } from './modules/realtime/typing.service.js';
import { UserRepository } from './modules/users/user.repository.js';
import { UserService } from './modules/users/user.service.js';

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
  conversations: ConversationService;
  messages: MessageService;
  control: ControlService;
};

export type ServiceOptions = {
  database: Database;
  bus: EventBus;
  log: Logger;
  jwt: { secret?: string; issuer?: string; audience?: string; jwksUrl?: string };
};

export function createServices({ database, bus, log, jwt }: ServiceOptions): Services {
  const presence = new PresenceService(bus, log, bus.commands);
  const typing = new TypingService(bus, bus.commands);
  const users = new UserService(new UserRepository(database.db), presence);
  const apiKeys = new ApiKeys(database.db);
  const audit = new AuditLog(database.db);
  const conversations = new ConversationService(database, users, bus);
  const messages = new MessageService(database, conversations, bus, (viewer, message) => {
    void typing.stopOnSend(viewer.orgId, viewer.userId, message.conversationId).catch((err) =>
      log.warn({ err: err.message }, 'could not clear typing after send'),
    );
  });
  const control = new ControlService(database, conversations, bus);
  const authenticate = createAuthenticator({ verifyJwt: createJwtVerifier(jwt), apiKeys, users, audit });
  return { database, bus, log, authenticate, apiKeys, audit, users, presence, typing, conversations, messages, control };
}
