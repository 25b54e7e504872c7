import { ForbiddenError, UnauthenticatedError } from '../graphql/errors.js';
import { checkText, LIMITS } from '../lib/validate.js';
import type { UserService } from '../modules/users/user.service.js';
import type { ApiKeys } from './api-keys.js';
import type { AuditLog } from './audit.js';
import type { JwtVerifier } from './jwt.js';
import type { Viewer } from './viewer.js';

/** What a request presents, from HTTP headers or the WebSocket connection_init payload. */
export type Credentials = {
  /** "Bearer <jwt>" */
  authorization?: string | null;
  apiKey?: string | null;
  actAs?: string | null;
  /** For the audit log: which operation an act-as was used for, where known. */
  operation?: string | null;
};

export type Authenticator = (credentials: Credentials) => Promise<Viewer | null>;

/**
 * Turns credentials into a Viewer: a built-in account's token (its row), another JWT (provisioning
 * its user, never over an account's row) or a service API key, which may act as any existing user
 * of its org (audited). No credentials: null. Bad credentials: UNAUTHENTICATED.
 */
export function createAuthenticator(deps: { verifyJwt: JwtVerifier; apiKeys: ApiKeys; users: UserService; audit: AuditLog }): Authenticator {
  return async ({ authorization, apiKey, actAs, operation }) => {
    if (apiKey) {
      if (authorization) throw new UnauthenticatedError('Send either a bearer token or an API key, not both');
      const key = await deps.apiKeys.verify(apiKey);
      if (!key) throw new UnauthenticatedError('API key is invalid or revoked');
      const userId = actAs ?? key.userId;
      checkText('actAs', userId, { max: LIMITS.shortTextChars });
      const [user] = await deps.users.byIds(key.orgId, [userId]);
      // An act-as never creates anyone: the key may only be someone its org already has.
      if (!user) {
        throw new UnauthenticatedError(actAs ? `X-Act-As-User "${actAs}" is no user of the API key's org` : `The API key's user ${userId} does not exist`);
      }
      if (actAs) {
        await deps.audit.record({
          orgId: key.orgId,
          action: 'act_as',
          actor: `apikey:${key.id}`,
          subjectUserId: actAs,
          details: { keyName: key.name, operation: operation ?? null },
        });
      }
      return {
        orgId: key.orgId,
        userId: user.id,
        displayName: user.displayName,
        kind: user.kind,
        roles: user.roles,
        credential: { type: 'apiKey', keyId: key.id, actingAs: Boolean(actAs) },
      };
    }
    if (actAs) throw new ForbiddenError('Acting as another user needs a service API key');
    if (!authorization) return null;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new UnauthenticatedError('Authorization must be "Bearer <token>"');
    const claims = await deps.verifyJwt(match[1]!);
    if (claims.account) {
      // The account's row says who this is and what they may do; the token only names it.
      const user = await deps.users.account(claims.org, claims.sub);
      if (!user) throw new UnauthenticatedError('The account of this token does not exist');
      return {
        orgId: user.orgId,
        userId: user.id,
        displayName: user.displayName,
        kind: user.kind,
        roles: user.roles,
        credential: { type: 'jwt', expiresAt: claims.exp },
      };
    }
    const profile = { orgId: claims.org, id: claims.sub, displayName: claims.name, kind: claims.kind, roles: claims.roles };
    const displayName = await deps.users.provision(profile);
    return {
      orgId: profile.orgId,
      userId: profile.id,
      displayName,
      kind: profile.kind,
      roles: profile.roles,
      credential: { type: 'jwt', expiresAt: claims.exp },
    };
  };
}
