import { builder } from '../../graphql/builder.js';
import { UserRef } from '../users/user.graphql.js';
import type { AuthPayload } from './account.service.js';

const AuthPayloadRef = builder.objectRef<AuthPayload>('AuthPayload').implement({
  description: 'A signed-in session: send `token` as `Authorization: Bearer <token>` (WebSocket: in connection_init).',
  fields: (t) => ({
    token: t.exposeString('token'),
    user: t.expose('user', { type: UserRef }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
  }),
});

const ORG_DESCRIPTION = "Must be left out or name the server's accounts org (ACCOUNTS_ORG); any other value is BAD_USER_INPUT.";
const ORG_DEPRECATION = 'Accounts live in the org the server is configured for (ACCOUNTS_ORG).';

const SignUpInput = builder.inputType('SignUpInput', {
  fields: (t) => ({
    userId: t.id({ required: true, description: '1 to 64 letters, digits or . _ @ -, starting with a letter or digit.' }),
    password: t.string({ required: true, description: '8 to 200 characters.' }),
    displayName: t.string({ required: true }),
    org: t.string({ description: ORG_DESCRIPTION, deprecationReason: ORG_DEPRECATION }),
  }),
});

const SignInInput = builder.inputType('SignInInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    password: t.string({ required: true }),
    org: t.string({ description: ORG_DESCRIPTION, deprecationReason: ORG_DEPRECATION }),
  }),
});

builder.mutationFields((t) => ({
  signUp: t.field({
    type: AuthPayloadRef,
    description:
      "Creates a user with a password in the server's accounts org (ACCOUNTS_ORG; built-in accounts, when the server has them on) and signs it in. CONFLICT when the user id is taken.",
    args: { input: t.arg({ type: SignUpInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const payload = await ctx.services.accounts.signUp(input);
      // The payload's user is read in the new user's org (its presence, for one).
      ctx.loaders = ctx.services.loadersFor(payload.viewer);
      return payload;
    },
  }),
  signIn: t.field({
    type: AuthPayloadRef,
    description: 'Trades a user id and password for a token (built-in accounts). UNAUTHENTICATED for any wrong pair.',
    args: { input: t.arg({ type: SignInInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const payload = await ctx.services.accounts.signIn(input);
      ctx.loaders = ctx.services.loadersFor(payload.viewer);
      return payload;
    },
  }),
}));
