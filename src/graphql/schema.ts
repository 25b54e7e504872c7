import { builder } from './builder.js';
// Each module registers its types and root fields on import.
import '../modules/users/user.graphql.js';
import '../modules/conversations/conversation.graphql.js';
import '../modules/messages/message.graphql.js';
import '../modules/reactions/reaction.graphql.js';
import '../modules/search/search.graphql.js';
import '../modules/control/control.graphql.js';
import '../modules/realtime/realtime.graphql.js';
import '../modules/agents/agent.graphql.js';
import '../modules/experts/expert.graphql.js';
import '../modules/evaluations/evaluation.graphql.js';
import '../modules/accounts/account.graphql.js';
import '../modules/webhooks/webhook.graphql.js';

export const schema = builder.toSchema({ sortSchema: false });
