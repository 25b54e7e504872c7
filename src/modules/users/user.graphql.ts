import { requireViewer } from '../../context.js';
import { builder } from '../../graphql/builder.js';
import { connectionType } from '../../graphql/connection.js';
import { ActorKindEnum, PresenceStatusEnum } from '../../graphql/enums.js';
import { viewerIndependent } from '../../graphql/viewer-independent.js';
import { checkText, LIMITS } from '../../lib/validate.js';
import type { UserSnapshot } from '../../pubsub/snapshots.js';
import type { Presence } from './presence.service.js';

export const PresenceRef = builder.objectRef<Presence>('Presence').implement({
  fields: (t) => ({
    status: t.expose('status', { type: PresenceStatusEnum, ...viewerIndependent }),
    lastSeenAt: t.expose('lastSeenAt', { type: 'DateTime', nullable: true, ...viewerIndependent }),
  }),
});

/** A user row, or the copy of one carried inside an event snapshot. */
export const UserRef = builder.objectRef<UserSnapshot>('User').implement({
  fields: (t) => ({
    id: t.exposeID('id', viewerIndependent),
    displayName: t.exposeString('displayName', viewerIndependent),
    kind: t.expose('kind', { type: ActorKindEnum, ...viewerIndependent }),
    roles: t.exposeStringList('roles', viewerIndependent),
    presence: t.field({ type: PresenceRef, ...viewerIndependent, resolve: (u, _args, ctx) => ctx.loaders.presence.load(u.id) }),
  }),
});

const UserConnection = connectionType('User', UserRef);

builder.queryFields((t) => ({
  viewer: t.field({
    type: UserRef,
    description: 'The signed-in user (or the user an API key acts as).',
    resolve: async (_root, _args, ctx) => {
      const viewer = requireViewer(ctx);
      return (
        (await ctx.loaders.user.load(viewer.userId)) ?? {
          orgId: viewer.orgId,
          id: viewer.userId,
          displayName: viewer.displayName,
          kind: viewer.kind,
          roles: viewer.roles,
        }
      );
    },
  }),
  user: t.field({
    type: UserRef,
    nullable: true,
    description: 'A user of your org, or null.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => {
      requireViewer(ctx);
      checkText('id', args.id, { max: LIMITS.shortTextChars });
      return ctx.loaders.user.load(args.id);
    },
  }),
  users: t.field({
    type: UserConnection,
    description: 'Users of your org by id; `search` matches id or display name.',
    args: {
      search: t.arg.string(),
      onlineOnly: t.arg.boolean(),
      first: t.arg.int(),
      after: t.arg.string(),
    },
    resolve: (_root, args, ctx) => ctx.services.users.list(requireViewer(ctx), args),
  }),
}));

const UpsertUserInput = builder.inputType('UpsertUserInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    displayName: t.string({ description: 'Left out: kept (a new user is named by its id).' }),
    kind: t.field({ type: ActorKindEnum, description: 'Left out: kept (a new user is a USER).' }),
    roles: t.stringList({ description: 'Replaces the roles (`expert`, `admin`, …); left out: kept.' }),
  }),
});

builder.mutationFields((t) => ({
  upsertUsers: t.field({
    type: [UserRef],
    description: `Creates or updates users of your org (admins and API keys), at most 100 at once, all or none; answers them in the order given.`,
    args: { input: t.arg({ type: [UpsertUserInput], required: true }) },
    resolve: (_root, args, ctx) => ctx.services.users.upsertMany(requireViewer(ctx), args.input),
  }),
  updatePresence: t.field({
    type: PresenceRef,
    description:
      'Sets your status (ONLINE, AWAY, BUSY, or OFFLINE to appear offline). It stands until you change it or your last socket closes; without a socket it lets HTTP-only clients show as present.',
    args: { status: t.arg({ type: PresenceStatusEnum, required: true }) },
    resolve: (_root, args, ctx) => {
      const viewer = requireViewer(ctx);
      return ctx.services.presence.setStatus(viewer.orgId, viewer.userId, args.status);
    },
  }),
}));
