import { requireViewer } from '../../context.js';
import { builder } from '../../graphql/builder.js';
import { BadInputError } from '../../graphql/errors.js';
import { viewerIndependent } from '../../graphql/viewer-independent.js';
import { MessageRef } from '../messages/message.graphql.js';
import { UserRef } from '../users/user.graphql.js';
import type { ReactionGroupRow } from './reaction.repository.js';

/** Users a ReactionGroup lists by default, and at most. */
const DEFAULT_REACTION_USERS = 10;
const MAX_REACTION_USERS = 100;

const ReactionGroupRef = builder.objectRef<ReactionGroupRow>('ReactionGroup').implement({
  description: 'The reactions to a message with one emoji.',
  fields: (t) => ({
    emoji: t.exposeString('emoji', viewerIndependent),
    count: t.int({ ...viewerIndependent, resolve: (g) => g.userIds.length }),
    // Not viewer-independent: it is the viewer's own.
    viewerReacted: t.boolean({ resolve: (g, _args, ctx) => ctx.viewer !== null && g.userIds.includes(ctx.viewer.userId) }),
    users: t.field({
      type: [UserRef],
      ...viewerIndependent,
      description: `Who reacted, first come first (default ${DEFAULT_REACTION_USERS}, at most ${MAX_REACTION_USERS}).`,
      args: { first: t.arg.int() },
      resolve: async (g, args, ctx) => {
        const first = args.first ?? DEFAULT_REACTION_USERS;
        if (first < 0 || first > MAX_REACTION_USERS) throw new BadInputError(`\`first\` must be between 0 and ${MAX_REACTION_USERS}`, 'first');
        const users = await Promise.all(g.userIds.slice(0, first).map((id) => ctx.loaders.user.load(id)));
        return users.filter((u) => u !== null);
      },
    }),
  }),
});

builder.objectFields(MessageRef, (t) => ({
  reactions: t.field({
    type: [ReactionGroupRef],
    ...viewerIndependent,
    description: 'Reactions grouped by emoji, in the order each emoji was first used.',
    resolve: (m, _args, ctx) => (m.deletedAt ? [] : ctx.loaders.reactions.load(m.id)),
  }),
}));

builder.mutationFields((t) => ({
  addReaction: t.field({
    type: MessageRef,
    description: 'Adds your reaction (one emoji or a :shortcode:); adding it again changes nothing.',
    args: { messageId: t.arg.id({ required: true }), emoji: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.reactions.add(requireViewer(ctx), args.messageId, args.emoji),
  }),
  removeReaction: t.field({
    type: MessageRef,
    args: { messageId: t.arg.id({ required: true }), emoji: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.reactions.remove(requireViewer(ctx), args.messageId, args.emoji),
  }),
}));
