import { actorKind, controlEventType, conversationType, messageKind, messagePriority, participantRole } from '../db/schema/index.js';
import { presenceStatuses } from '../modules/users/presence-status.js';
import { builder } from './builder.js';

// Enums shared by several modules. They take their values from the Postgres enums (src/db/schema),
// so a row's value is the API's value and the two lists cannot drift apart.
export const ConversationTypeEnum = builder.enumType('ConversationType', { values: conversationType.enumValues });
export const ParticipantRoleEnum = builder.enumType('ParticipantRole', { values: participantRole.enumValues });
export const ActorKindEnum = builder.enumType('ActorKind', { values: actorKind.enumValues });
export const MessagePriorityEnum = builder.enumType('MessagePriority', { values: messagePriority.enumValues });
export const MessageKindEnum = builder.enumType('MessageKind', { values: messageKind.enumValues });
export const PresenceStatusEnum = builder.enumType('PresenceStatus', { values: presenceStatuses });
export const ControlEventTypeEnum = builder.enumType('ControlEventType', { values: controlEventType.enumValues });
