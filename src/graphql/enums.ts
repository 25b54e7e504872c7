import { builder } from './builder.js';

// Enums shared by several modules. Values match the Postgres enums in src/db/schema.
export const ConversationTypeEnum = builder.enumType('ConversationType', { values: ['PRIVATE', 'GROUP'] as const });
export const ParticipantRoleEnum = builder.enumType('ParticipantRole', { values: ['OWNER', 'ADMIN', 'MEMBER'] as const });
export const ActorKindEnum = builder.enumType('ActorKind', { values: ['USER', 'AGENT'] as const });
export const MessagePriorityEnum = builder.enumType('MessagePriority', {
  values: ['LOW', 'NORMAL', 'HIGH', 'CRITICAL'] as const,
});
export const MessageKindEnum = builder.enumType('MessageKind', {
  values: ['CHAT', 'COMMAND', 'NOTIFICATION', 'SYSTEM'] as const,
});
export const PresenceStatusEnum = builder.enumType('PresenceStatus', {
  values: ['ONLINE', 'AWAY', 'BUSY', 'OFFLINE'] as const,
});
export const ControlEventTypeEnum = builder.enumType('ControlEventType', {
  values: ['PAUSE', 'RESUME', 'PREEMPT', 'ROUTE', 'HANDOFF', 'CANCEL', 'PRIORITY'] as const,
});
