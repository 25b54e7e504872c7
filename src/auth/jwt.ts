import { createRemoteJWKSet, type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { UnauthenticatedError } from '../graphql/errors.js';

/** The claims Switchboard reads from a token (API.md, "JWT claims"). */
export type TokenClaims = {
  sub: string;
  exp: number;
  /** Absent: the user keeps the display name it has (a new user is named by its id). */
  name?: string;
  org: string;
  roles: string[];
  kind: 'USER' | 'AGENT';
  /**
   * Minted by signUp / signIn for a built-in account (ACCOUNT_CLAIM), verified with the server's
   * own HS256 secret: the account's row, not these claims, says who the viewer is.
   */
  account: boolean;
};

/**
 * The private claim that marks a token of a built-in account. Honoured only on HS256 tokens
 * verified with the server's own secret; on an identity provider's token it means nothing.
 */
export const ACCOUNT_CLAIM = 'sb_account';

/** A text claim: it is stored, and Postgres text cannot hold NUL. */
const text = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((v) => !v.includes('\u0000'), 'must not contain NUL characters');

const claimsSchema = z.object({
  sub: text(1, 200),
  exp: z.number(),
  name: text(1, 200).optional(),
  org: text(1, 200).optional(),
  roles: z.array(text(0, 50)).max(50).optional(),
  kind: z.enum(['user', 'agent']).optional(),
});

export type JwtVerifierOptions = {
  secret?: string;
  issuer?: string;
  audience?: string;
  jwksUrl?: string;
};

export type JwtVerifier = (token: string) => Promise<TokenClaims>;

/** Seconds of clock skew allowed on `exp` and `nbf`. */
const CLOCK_TOLERANCE_S = 5;
/** Verified tokens remembered (see createJwtVerifier); the oldest is dropped past this. */
const VERIFIED_CACHE_MAX = 10_000;
/**
 * A verified token is re-verified after this long. With JWKS, jose keeps a fetched key set for
 * up to 10 minutes too, so a token signed with a key withdrawn from the JWKS may be taken for up
 * to 20 minutes after the withdrawal (10 without this cache). Its `exp` is enforced throughout.
 */
const VERIFIED_CACHE_MAX_AGE_MS = 10 * 60_000;

/**
 * Verifies tokens with an explicit algorithm allow-list: HS256 for the shared secret,
 * RS256/ES256 for keys from JWKS. `alg: none` and anything else are refused by jose.
 *
 * A client sends the same token with every request, and a signature check costs more than the
 * rest of a small query: so the claims of a token that passed are kept, by its exact string, and
 * the next request with that string only re-checks `exp` (with the same tolerance as jose). Every
 * other check (signature, algorithm, iss, aud, nbf, claim shapes) depends on the string alone and
 * passed already. Failures are not kept: a bad token is verified (and refused) every time.
 */
export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  const verify = createUncachedVerifier(options);
  const verified = new Map<string, { claims: TokenClaims; until: number }>();

  return async (token) => {
    const hit = verified.get(token);
    if (hit) {
      if (Date.now() < hit.until && !expired(hit.claims.exp)) return hit.claims;
      verified.delete(token);
    }
    const claims = await verify(token);
    // Shared by every request that presents this token: nothing may change it.
    Object.freeze(claims.roles);
    Object.freeze(claims);
    if (verified.size >= VERIFIED_CACHE_MAX) verified.delete(verified.keys().next().value!);
    verified.set(token, { claims, until: Date.now() + VERIFIED_CACHE_MAX_AGE_MS });
    return claims;
  };
}

/** jose's rule: a token is expired once `exp` is at or before now minus the tolerance. */
const expired = (exp: number) => exp <= Math.floor(Date.now() / 1000) - CLOCK_TOLERANCE_S;

function createUncachedVerifier(options: JwtVerifierOptions): JwtVerifier {
  const secretKey = options.secret ? new TextEncoder().encode(options.secret) : undefined;
  const jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined;
  const common = {
    issuer: options.issuer,
    audience: options.audience,
    requiredClaims: ['exp', 'sub'],
    clockTolerance: CLOCK_TOLERANCE_S,
  };

  return async (token) => {
    let payload: JWTPayload;
    let ownSecret = false;
    try {
      const alg = peekAlgorithm(token);
      if (alg === 'HS256' && secretKey) {
        ({ payload } = await jwtVerify(token, secretKey, { ...common, algorithms: ['HS256'] }));
        ownSecret = true;
      } else if ((alg === 'RS256' || alg === 'ES256') && jwks) {
        ({ payload } = await jwtVerify(token, jwks, { ...common, algorithms: ['RS256', 'ES256'] }).catch((err: unknown) => {
          throw jwksUnavailable(err) ? new JwksUnavailableError(options.jwksUrl!, err) : err;
        }));
      } else {
        throw new UnauthenticatedError(`Token algorithm ${JSON.stringify(alg)} is not accepted`);
      }
    } catch (err) {
      if (err instanceof UnauthenticatedError || err instanceof JwksUnavailableError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new UnauthenticatedError('Token has expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed) {
        throw new UnauthenticatedError(`Token claim "${err.claim}" is invalid: ${err.reason}`);
      }
      throw new UnauthenticatedError('Token is invalid');
    }
    const parsed = claimsSchema.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new UnauthenticatedError(`Token claim "${issue.path.join('.')}" is invalid: ${issue.message}`);
    }
    const c = parsed.data;
    return {
      sub: c.sub,
      exp: c.exp,
      name: c.name,
      org: c.org ?? 'default',
      roles: [...new Set(c.roles ?? [])],
      kind: c.kind === 'agent' ? 'AGENT' : 'USER',
      account: ownSecret && payload[ACCOUNT_CLAIM] === true,
    };
  };
}

/**
 * The identity provider's key set could not be had (no answer, not 200, not JSON): nothing is
 * known about the token. Not UNAUTHENTICATED, which would send clients for a new token (and close
 * sockets with 4403): the request fails as the server's own, and clients try again.
 */
export class JwksUnavailableError extends Error {
  constructor(url: string, cause: unknown) {
    super(`JWKS at ${url} is unavailable`, { cause });
    this.name = 'JwksUnavailableError';
  }
}

/** jose's own errors about the token are JOSEError subclasses; fetching the key set fails otherwise. */
const jwksUnavailable = (err: unknown) =>
  err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError) || (err as joseErrors.JOSEError).code === joseErrors.JOSEError.code;

function peekAlgorithm(token: string): unknown {
  const header = token.split('.')[0];
  if (!header) return undefined;
  try {
    return JSON.parse(Buffer.from(header, 'base64url').toString('utf8'))?.alg;
  } catch {
    return undefined;
  }
}

export type MintOptions = {
  sub: string;
  name?: string;
  org?: string;
  roles?: string[];
  kind?: 'user' | 'agent';
  /** Lifetime, e.g. "1h", "7d" or seconds. */
  expiresIn?: string | number;
  issuer?: string;
  audience?: string;
  /** Marks the token as one of a built-in account (ACCOUNT_CLAIM): only signUp / signIn set it. */
  account?: boolean;
};

/** Signs an HS256 token: for development (npm run token) and tests. */
export async function mintToken(secret: string, options: MintOptions): Promise<string> {
  const claims: Record<string, unknown> = {};
  if (options.name) claims.name = options.name;
  if (options.org) claims.org = options.org;
  if (options.roles) claims.roles = options.roles;
  if (options.kind) claims.kind = options.kind;
  if (options.account) claims[ACCOUNT_CLAIM] = true;
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuedAt()
    // jose reads a number as an absolute timestamp; here a number is a lifetime in seconds.
    .setExpirationTime(typeof options.expiresIn === 'number' ? Math.floor(Date.now() / 1000) + options.expiresIn : (options.expiresIn ?? '24h'));
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
