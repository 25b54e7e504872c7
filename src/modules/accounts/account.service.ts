import { decodeJwt } from 'jose';
import type { Logger } from 'pino';
import { mintToken } from '../../auth/jwt.js';
import type { Viewer } from '../../auth/viewer.js';
import type { UserRow } from '../../db/schema/index.js';
import { BadInputError, ConflictError, ForbiddenError, UnauthenticatedError } from '../../graphql/errors.js';
import { idKey } from '../../lib/id-names.js';
import { Semaphore } from '../../lib/semaphore.js';
import { charLength, checkText, LIMITS } from '../../lib/validate.js';
import { type Bucket, type RateLimiter, rateLimitedError } from '../../ratelimit/rate-limiter.js';
import type { AccountRepository } from './account.repository.js';
import { burnVerification, hashPassword, verifyPassword } from './password.js';

export const PASSWORD_MIN_CHARS = 8;
export const PASSWORD_MAX_CHARS = 200;
/** Ids people pick for themselves: plain enough to type, read aloud and put in a URL. */
const USER_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** ACCOUNTS_ORG's default. */
const DEFAULT_ORG = 'default';
/** Lifetime of a token from signIn / signUp. */
export const ACCOUNT_TOKEN_TTL_SECONDS = 24 * 60 * 60;
/**
 * Sign-in attempts one account gets, counted on every instance (RateLimiter): 10 at once, then
 * one per 90 s (10 per 15 minutes). A right password forgets them.
 */
const ACCOUNT_ATTEMPTS: Bucket = { perSecond: 10 / (15 * 60), burst: 10 };
/** Password hashes (scrypt, 32 MiB each) computed at once by this process, and how many may wait. */
const HASHING_AT_ONCE = 2;
const HASHING_WAITING = 16;
const WRONG_CREDENTIALS = 'Wrong user id or password';

export type SignUpInput = { userId: string; password: string; displayName: string; org?: string | null };
export type SignInInput = { userId: string; password: string; org?: string | null };
export type AuthPayload = { token: string; user: UserRow; expiresAt: Date; viewer: Viewer };

export type AccountOptions = {
  enabled: boolean;
  /** The org every account lives in (ACCOUNTS_ORG). */
  org?: string;
  /** The server's HS256 secret; without one no token can be minted and accounts stay off. */
  secret?: string;
  issuer?: string;
  audience?: string;
  tokenTtlSeconds?: number;
};

/**
 * Built-in accounts for standalone use: a user id with an scrypt-hashed password, traded for an
 * HS256 token marked as an account's (ACCOUNT_CLAIM). Its user is the account's row (source
 * ACCOUNT): such a token is never provisioned from, and no other token adopts the row.
 */
export class AccountService {
  /** Bounds the memory and threads scrypt takes, whatever the rate limits let through. */
  readonly hashing = new Semaphore(HASHING_AT_ONCE, HASHING_WAITING);

  constructor(
    private readonly repo: AccountRepository,
    private readonly options: AccountOptions,
    private readonly log: Logger,
    private readonly limiter: RateLimiter,
  ) {}

  get enabled(): boolean {
    return this.options.enabled && Boolean(this.options.secret);
  }

  /** Creates a user with a password and signs it in. CONFLICT when the id is already known in the org. */
  async signUp(input: SignUpInput): Promise<AuthPayload> {
    this.requireEnabled();
    const org = this.org(input.org);
    const userId = input.userId.trim();
    if (!USER_ID.test(userId)) {
      throw new BadInputError('`userId` must be 1 to 64 letters, digits or . _ @ - and start with a letter or digit', 'userId');
    }
    const displayName = input.displayName.trim();
    checkText('displayName', displayName, { max: LIMITS.nameChars });
    checkPassword(input.password);
    // Cheap check first: no hashing for an id that is obviously taken.
    if (await this.repo.userExists(org, userId)) throw new ConflictError(`User id "${userId}" is taken`);
    const hash = await this.hashed(() => hashPassword(input.password));
    const user = await this.repo.create({ orgId: org, id: userId, displayName }, hash);
    this.log.info({ org, userId }, 'account created');
    return this.issue(user);
  }

  /** A fresh token for the right password; UNAUTHENTICATED with one message for any wrong pair. */
  async signIn(input: SignInInput): Promise<AuthPayload> {
    this.requireEnabled();
    const org = this.org(input.org);
    const userId = input.userId.trim();
    checkText('userId', userId, { max: LIMITS.shortTextChars });
    if (typeof input.password !== 'string' || input.password.length === 0) throw new BadInputError('`password` must not be empty', 'password');
    // An over-long password cannot be right (sign-up refuses them); do not spend scrypt on it.
    if (input.password.length > PASSWORD_MAX_CHARS * 2) throw new UnauthenticatedError(WRONG_CREDENTIALS);
    const attempts = `sb:rl:account:attempts:${idKey(org, userId)}`;
    const account = await this.hashed(async () => {
      await this.limiter.consumeKey(attempts, ACCOUNT_ATTEMPTS, 1, 'Too many sign-in attempts for this account');
      const found = await this.repo.find(org, userId);
      if (found) return (await verifyPassword(input.password, found.passwordHash)) ? found : null;
      await burnVerification(input.password);
      return null;
    });
    if (!account) throw new UnauthenticatedError(WRONG_CREDENTIALS);
    await this.limiter.reset(attempts);
    return this.issue(account.user);
  }

  /**
   * Runs `task` (password hashing) when one of this process's few slots is free; RATE_LIMITED at
   * once when too many are waiting already.
   */
  private async hashed<T>(task: () => Promise<T>): Promise<T> {
    const slot = this.hashing.acquire();
    if (!slot) throw rateLimitedError('The server is busy checking passwords', 1_000);
    const release = await slot;
    try {
      return await task();
    } finally {
      release();
    }
  }

  private async issue(user: UserRow): Promise<AuthPayload> {
    const token = await mintToken(this.options.secret!, {
      sub: user.id,
      name: user.displayName,
      org: user.orgId,
      // For clients that read their token; the server reads the account's row instead.
      roles: user.roles.length ? user.roles : undefined,
      kind: user.kind === 'AGENT' ? 'agent' : 'user',
      account: true,
      expiresIn: this.options.tokenTtlSeconds ?? ACCOUNT_TOKEN_TTL_SECONDS,
      issuer: this.options.issuer,
      audience: this.options.audience,
    });
    const exp = decodeJwt(token).exp!;
    return {
      token,
      user,
      expiresAt: new Date(exp * 1000),
      viewer: {
        orgId: user.orgId,
        userId: user.id,
        displayName: user.displayName,
        kind: user.kind,
        roles: user.roles,
        credential: { type: 'jwt', expiresAt: exp },
      },
    };
  }

  private requireEnabled() {
    if (!this.enabled) throw new ForbiddenError('Built-in accounts are turned off on this server (ACCOUNTS_ENABLED)');
  }

  /**
   * The server's accounts org. A client that names another one is refused rather than let in
   * anywhere: anonymous input must never pick an existing org and its members.
   */
  private org(requested: string | null | undefined): string {
    const org = this.options.org ?? DEFAULT_ORG;
    if (requested != null && requested.trim() !== org) {
      throw new BadInputError(`Built-in accounts live in the org "${org}" set by ACCOUNTS_ORG; leave \`org\` out (it is deprecated)`, 'org');
    }
    return org;
  }
}

/** BAD_USER_INPUT unless the password is 8 to 200 characters. */
function checkPassword(password: string) {
  const length = password.length > PASSWORD_MAX_CHARS * 2 ? Infinity : charLength(password);
  if (length < PASSWORD_MIN_CHARS) {
    throw new BadInputError(`\`password\` must be at least ${PASSWORD_MIN_CHARS} characters`, 'password');
  }
  if (length > PASSWORD_MAX_CHARS) {
    throw new BadInputError(`\`password\` must be at most ${PASSWORD_MAX_CHARS} characters`, 'password');
  }
}
