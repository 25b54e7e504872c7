import { and, eq } from 'drizzle-orm';
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversationDocument, SignInDocument, SignUpDocument, ViewerDocument } from '../../../src/client/generated/graphql.js';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { accounts, users } from '../../../src/db/schema/index.js';
import { hashPassword, verifyPassword } from '../../../src/modules/accounts/password.js';
import { codeOf, dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { eventually } from '../../kit/subscriptions.js';

const PASSWORD = 'correct horse battery';

describe('ACCOUNTS_ENABLED', () => {
  it('is on by default in embedded mode and off with DATABASE_URL', () => {
    expect(loadConfig({}).accountsEnabled).toBe(true);
    expect(loadConfig({ DATABASE_URL: 'postgres://db/x' }).accountsEnabled).toBe(false);
    expect(loadConfig({ DATABASE_URL: 'postgres://db/x', ACCOUNTS_ENABLED: 'true' }).accountsEnabled).toBe(true);
    expect(loadConfig({ ACCOUNTS_ENABLED: 'false' }).accountsEnabled).toBe(false);
  });

  it('puts accounts in ACCOUNTS_ORG, `default` unless set', () => {
    expect(loadConfig({}).accountsOrg).toBe('default');
    expect(loadConfig({ ACCOUNTS_ORG: '' }).accountsOrg).toBe('default');
    expect(loadConfig({ ACCOUNTS_ORG: ' acme ' }).accountsOrg).toBe('acme');
    expect(() => loadConfig({ ACCOUNTS_ORG: 'o'.repeat(201) })).toThrow(/ACCOUNTS_ORG/);
  });

  it('refuses bad values, and accounts without an HS256 secret', () => {
    expect(() => loadConfig({ ACCOUNTS_ENABLED: 'maybe' })).toThrow(ConfigError);
    expect(() => loadConfig({ ACCOUNTS_ENABLED: 'true', JWT_JWKS_URL: 'https://idp.example/jwks' })).toThrow(/ACCOUNTS_ENABLED/);
    // Default with only JWKS: off, since there is no secret to sign with.
    expect(loadConfig({ JWT_JWKS_URL: 'https://idp.example/jwks' }).accountsEnabled).toBe(false);
  });
});

describe('password hashes', () => {
  it('are salted scrypt with their parameters, and verify only the right password', async () => {
    const a = await hashPassword(PASSWORD);
    const b = await hashPassword(PASSWORD);
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain(PASSWORD);
    expect(await verifyPassword(PASSWORD, a)).toBe(true);
    expect(await verifyPassword(PASSWORD, b)).toBe(true);
    expect(await verifyPassword('correct horse battery!', a)).toBe(false);
    // Other parameters stored with the hash are honoured.
    expect(await verifyPassword('pw-cheap-1', await hashPassword('pw-cheap-1', { N: 1024, r: 8, p: 1 }))).toBe(true);
    for (const bad of ['', 'plain', 'scrypt$1$8$1$AA$AA', `scrypt$3$8$1$c2FsdHNhbHRzYWx0$${'A'.repeat(43)}`, 'bcrypt$x$y$z$a$b']) {
      expect(await verifyPassword(PASSWORD, bad)).toBe(false);
    }
  });
});

describe.each(backends)('built-in accounts on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ backend, env: { ACCOUNTS_ENABLED: 'true' } });
  });
  afterAll(() => server?.stop());

  const signUp = (input: { userId: string; password: string; displayName: string; org?: string }) => server.gql(null, SignUpDocument, { input });
  const signIn = (input: { userId: string; password: string; org?: string }) => server.gql(null, SignInDocument, { input });

  it('signs up: a user, a stored hash and a token that works for HTTP', async () => {
    const before = Date.now();
    const { signUp: payload } = dataOf(await signUp({ userId: 'ann', password: PASSWORD, displayName: ' Ann Example ' }));
    expect(payload.user).toMatchObject({ id: 'ann', displayName: 'Ann Example', kind: 'USER', roles: [] });
    const claims = decodeJwt(payload.token);
    expect(claims).toMatchObject({ sub: 'ann', name: 'Ann Example', org: 'default' });
    expect(new Date(payload.expiresAt).getTime()).toBe(claims.exp! * 1000);
    expect(claims.exp! * 1000).toBeGreaterThan(before + 23 * 3600_000);

    expect(dataOf(await server.gql(payload.token, ViewerDocument)).viewer).toMatchObject({ id: 'ann', displayName: 'Ann Example' });

    const [row] = await server.app.services.database.db
      .select()
      .from(accounts)
      .where(and(eq(accounts.orgId, 'default'), eq(accounts.userId, 'ann')));
    expect(row!.passwordHash).toMatch(/^scrypt\$/);
    expect(row!.passwordHash).not.toContain(PASSWORD);
  });

  it('signs in with the right password only, with one message for any wrong pair', async () => {
    dataOf(await signUp({ userId: 'ben', password: PASSWORD, displayName: 'Ben' }));
    const { signIn: payload } = dataOf(await signIn({ userId: 'ben', password: PASSWORD }));
    expect(payload.user.id).toBe('ben');
    expect(dataOf(await server.gql(payload.token, ViewerDocument)).viewer.id).toBe('ben');

    const wrong = await signIn({ userId: 'ben', password: 'not the password' });
    const unknown = await signIn({ userId: 'nobody-here', password: PASSWORD });
    expect(codeOf(wrong)).toBe('UNAUTHENTICATED');
    expect(codeOf(unknown)).toBe('UNAUTHENTICATED');
    expect(wrong.errors![0]!.message).toBe(unknown.errors![0]!.message);
    expect(wrong.data).toBeNull();
  });

  it('refuses a taken user id with CONFLICT, also one known from a token, and writes nothing', async () => {
    dataOf(await signUp({ userId: 'cat', password: PASSWORD, displayName: 'Cat' }));
    const again = await signUp({ userId: 'cat', password: 'another password', displayName: 'Impostor' });
    expect(codeOf(again)).toBe('CONFLICT');
    // The original password still works, the profile is unchanged.
    expect(dataOf(await signIn({ userId: 'cat', password: PASSWORD })).signIn.user.displayName).toBe('Cat');

    // A user that exists through a token (or was added to a conversation) cannot be claimed.
    dataOf(await server.gql(await server.token('dan', { name: 'Dan' }), ViewerDocument));
    expect(codeOf(await signUp({ userId: 'dan', password: PASSWORD, displayName: 'Not Dan' }))).toBe('CONFLICT');
    const alice = await server.token('alice');
    dataOf(await server.gql(alice, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: ['placeholder-eve'] } }));
    expect(codeOf(await signUp({ userId: 'placeholder-eve', password: PASSWORD, displayName: 'Eve' }))).toBe('CONFLICT');
    expect(codeOf(await signIn({ userId: 'dan', password: PASSWORD }))).toBe('UNAUTHENTICATED');
  });

  it('keeps concurrent sign-ups of one id to a single account', async () => {
    const results = await Promise.all([1, 2, 3].map((n) => signUp({ userId: 'racer', password: `${PASSWORD} ${n}`, displayName: `Racer ${n}` })));
    expect(results.filter((r) => !r.errors).length).toBe(1);
    expect(results.filter((r) => codeOf(r) === 'CONFLICT').length).toBe(2);
  });

  it('checks its input with BAD_USER_INPUT and writes nothing', async () => {
    const cases: [Parameters<typeof signUp>[0], string][] = [
      [{ userId: 'short', password: '1234567', displayName: 'Short' }, 'password'],
      [{ userId: 'long', password: 'x'.repeat(201), displayName: 'Long' }, 'password'],
      [{ userId: 'has space', password: PASSWORD, displayName: 'Space' }, 'userId'],
      [{ userId: '-dash', password: PASSWORD, displayName: 'Dash' }, 'userId'],
      [{ userId: 'u'.repeat(65), password: PASSWORD, displayName: 'Long id' }, 'userId'],
      [{ userId: 'noname', password: PASSWORD, displayName: '   ' }, 'displayName'],
      [{ userId: 'bigname', password: PASSWORD, displayName: 'n'.repeat(201) }, 'displayName'],
    ];
    for (const [input, field] of cases) {
      const result = await signUp(input);
      expect(codeOf(result), `${field}: ${JSON.stringify(input).slice(0, 80)}`).toBe('BAD_USER_INPUT');
      expect(result.errors![0]!.extensions!.field).toBe(field);
    }
    const rows = await server.app.services.database.db.select().from(users).where(eq(users.id, 'short'));
    expect(rows).toEqual([]);
    // The limits are inclusive: 8 and 200 characters (counted as people count them) are fine.
    dataOf(await signUp({ userId: 'eight', password: '12345678', displayName: 'Eight' }));
    dataOf(await signUp({ userId: 'twohundred', password: '🔑'.repeat(200), displayName: 'Emoji' }));
    dataOf(await signIn({ userId: 'twohundred', password: '🔑'.repeat(200) }));
    expect(codeOf(await signIn({ userId: 'eight', password: '' }))).toBe('BAD_USER_INPUT');
  });

  it('never lets anonymous input pick an org: another `org` is BAD_USER_INPUT naming ACCOUNTS_ORG, and creates nothing', async () => {
    // Acme exists, with members and a conversation.
    const acmeAdmin = await server.token('acme-admin', { org: 'acme', roles: ['admin'] });
    dataOf(await server.gql(acmeAdmin, CreateConversationDocument, { input: { type: 'GROUP', name: 'acme only', participantIds: ['acme-member'] } }));
    for (const org of ['acme', 'elsewhere', '']) {
      const up = await signUp({ userId: 'fay', password: PASSWORD, displayName: 'Fay', org });
      expect(codeOf(up), org).toBe('BAD_USER_INPUT');
      expect(up.errors![0]!.extensions!.field).toBe('org');
      expect(up.errors![0]!.message).toContain('ACCOUNTS_ORG');
      expect(codeOf(await signIn({ userId: 'acme-member', password: PASSWORD, org }))).toBe('BAD_USER_INPUT');
    }
    const db = server.app.services.database.db;
    expect(await db.select().from(users).where(eq(users.id, 'fay'))).toEqual([]);
    expect(await db.select().from(accounts).where(eq(accounts.userId, 'fay'))).toEqual([]);
    // Naming the server's own org (the deprecated way) is the same as leaving it out.
    const { signUp: payload } = dataOf(await signUp({ userId: 'fay', password: PASSWORD, displayName: 'Fay', org: 'default' }));
    expect(decodeJwt(payload.token).org).toBe('default');
    expect(dataOf(await signIn({ userId: 'fay', password: PASSWORD, org: ' default ' })).signIn.user.id).toBe('fay');
  });

  /** Where the user's row came from (users.source), or undefined without a row. */
  const sourceOf = async (userId: string, orgId = 'default') => {
    const [row] = await server.app.services.database.db
      .select()
      .from(users)
      .where(and(eq(users.orgId, orgId), eq(users.id, userId)));
    return row?.source;
  };

  it('keeps an account its own: a token from elsewhere for its id is UNAUTHENTICATED and changes nothing', async () => {
    // Someone claims the id before its owner's first token arrives.
    const { signUp: claimed } = dataOf(await signUp({ userId: 'frank', password: PASSWORD, displayName: 'Not Frank' }));
    expect(await sourceOf('frank')).toBe('ACCOUNT');
    // The owner's token (an identity provider's, or npm run token's) does not adopt the row ...
    const owners = await server.token('frank', { name: 'Frank', roles: ['admin', 'expert'] });
    const refused = await server.gql(owners, ViewerDocument);
    expect(codeOf(refused)).toBe('UNAUTHENTICATED');
    expect(refused.errors![0]!.message).toMatch(/built-in account/);
    // ... so the account never gets the roles that token carried.
    const [row] = await server.app.services.database.db
      .select()
      .from(users)
      .where(and(eq(users.orgId, 'default'), eq(users.id, 'frank')));
    expect(row).toMatchObject({ displayName: 'Not Frank', roles: [], source: 'ACCOUNT' });
    const { signIn: again } = dataOf(await signIn({ userId: 'frank', password: PASSWORD }));
    expect(again.user.roles).toEqual([]);
    expect(decodeJwt(again.token).roles).toBeUndefined();
    for (const token of [claimed.token, again.token]) {
      expect(dataOf(await server.gql(token, ViewerDocument)).viewer).toMatchObject({ id: 'frank', displayName: 'Not Frank', roles: [] });
    }
  });

  it("reads an account token's viewer from the account's row, never from its claims", async () => {
    dataOf(await signUp({ userId: 'gwen', password: PASSWORD, displayName: 'Gwen' }));
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT({ sb_account: true, exp: now + 600, ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(server.secret));
    // Claims that differ from the row are not believed, and do not change it.
    const boastful = await sign({ sub: 'gwen', name: 'Admin Gwen', roles: ['admin'], kind: 'agent' });
    expect(dataOf(await server.gql(boastful, ViewerDocument)).viewer).toMatchObject({ id: 'gwen', displayName: 'Gwen', kind: 'USER', roles: [] });
    expect(await sourceOf('gwen')).toBe('ACCOUNT');
    // An account token for an id that is no account is refused, and provisions nothing.
    dataOf(await server.gql(await server.token('token-user'), ViewerDocument));
    for (const sub of ['token-user', 'no-such-account']) {
      expect(codeOf(await server.gql(await sign({ sub }), ViewerDocument)), sub).toBe('UNAUTHENTICATED');
    }
    expect(await sourceOf('token-user')).toBe('TOKEN');
    expect(await sourceOf('no-such-account')).toBeUndefined();
  });

  it('lets the first token adopt a placeholder, and keeps concurrent sign-up and token apart', async () => {
    const alice = await server.token('alice');
    dataOf(await server.gql(alice, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: ['later-lou'] } }));
    expect(await sourceOf('later-lou')).toBe('PLACEHOLDER');
    expect(dataOf(await server.gql(await server.token('later-lou', { name: 'Lou' }), ViewerDocument)).viewer.displayName).toBe('Lou');
    expect(await sourceOf('later-lou')).toBe('TOKEN');

    // A sign-up and a token racing for a new id: exactly one of them gets it.
    for (let i = 0; i < 5; i++) {
      const id = `race-${i}`;
      const [up, viewer] = await Promise.all([
        signUp({ userId: id, password: PASSWORD, displayName: 'Racer' }),
        server.token(id).then((t) => server.gql(t, ViewerDocument)),
      ]);
      const source = await sourceOf(id);
      if (source === 'ACCOUNT') {
        expect(up.errors).toBeUndefined();
        expect(codeOf(viewer)).toBe('UNAUTHENTICATED');
      } else {
        expect(source).toBe('TOKEN');
        expect(codeOf(up)).toBe('CONFLICT');
        expect(viewer.errors).toBeUndefined();
      }
    }
  });

  it('slows down guessing: too many wrong passwords lock the account for a while', async () => {
    dataOf(await signUp({ userId: 'gil', password: PASSWORD, displayName: 'Gil' }));
    for (let i = 0; i < 10; i++) expect(codeOf(await signIn({ userId: 'gil', password: `guess ${i}!!` }))).toBe('UNAUTHENTICATED');
    const locked = await signIn({ userId: 'gil', password: PASSWORD });
    expect(codeOf(locked)).toBe('RATE_LIMITED');
    expect(locked.errors![0]!.extensions!.retryAfter).toBeGreaterThan(0);
    // Other accounts are not affected.
    dataOf(await signIn({ userId: 'ben', password: PASSWORD }));
  });
});

describe('password hashing under load', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { ACCOUNTS_ENABLED: 'true' } });
  });
  afterAll(() => server?.stop());

  it('runs a few hashes at once per process and answers RATE_LIMITED when too many wait', async () => {
    dataOf(await server.gql(null, SignUpDocument, { input: { userId: 'kim', password: PASSWORD, displayName: 'Kim' } }));
    const { hashing } = server.app.services.accounts;
    // Every slot taken and the line full, as a crowd of sign-ins would leave them.
    const held = Array.from({ length: hashing.limit + hashing.maxWaiting }, () => hashing.acquire()!);
    expect(hashing.acquire()).toBeNull();
    for (const busy of [
      await server.gql(null, SignInDocument, { input: { userId: 'kim', password: PASSWORD } }),
      await server.gql(null, SignUpDocument, { input: { userId: 'lee', password: PASSWORD, displayName: 'Lee' } }),
    ]) {
      expect(codeOf(busy)).toBe('RATE_LIMITED');
      expect(busy.errors![0]!.extensions!.retryAfter).toBe(1);
    }
    expect(await server.app.services.database.db.select().from(users).where(eq(users.id, 'lee'))).toEqual([]);
    // Slots are handed on in order as they are released; then sign-ins go through again.
    for (const slot of held) (await slot)();
    expect(hashing.load).toEqual({ running: 0, waiting: 0 });
    // A sign-in that waits in line gets its turn.
    const first = hashing.acquire()!;
    const second = hashing.acquire()!;
    const queued = server.gql(null, SignInDocument, { input: { userId: 'kim', password: PASSWORD } });
    await eventually(() => hashing.load.waiting === 1);
    (await first)();
    expect(dataOf(await queued).signIn.user.id).toBe('kim');
    (await second)();
  });
});

describe('ACCOUNTS_ORG set', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { ACCOUNTS_ENABLED: 'true', ACCOUNTS_ORG: 'team' } });
  });
  afterAll(() => server?.stop());

  it('signs up and in to that org only', async () => {
    const up = dataOf(await server.gql(null, SignUpDocument, { input: { userId: 'ida', password: PASSWORD, displayName: 'Ida' } })).signUp;
    expect(decodeJwt(up.token).org).toBe('team');
    const [row] = await server.app.services.database.db.select().from(users).where(eq(users.id, 'ida'));
    expect(row).toMatchObject({ orgId: 'team', id: 'ida' });
    const inTeam = dataOf(await server.gql(null, SignInDocument, { input: { userId: 'ida', password: PASSWORD, org: 'team' } })).signIn;
    expect(decodeJwt(inTeam.token).org).toBe('team');
    const other = await server.gql(null, SignInDocument, { input: { userId: 'ida', password: PASSWORD, org: 'default' } });
    expect(codeOf(other)).toBe('BAD_USER_INPUT');
    expect(other.errors![0]!.message).toContain('ACCOUNTS_ORG');
  });
});

describe('accounts turned off', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { ACCOUNTS_ENABLED: 'false' } });
  });
  afterAll(() => server?.stop());

  it('answers FORBIDDEN to signUp and signIn and writes nothing', async () => {
    const up = await server.gql(null, SignUpDocument, { input: { userId: 'hal', password: PASSWORD, displayName: 'Hal' } });
    expect(codeOf(up)).toBe('FORBIDDEN');
    expect(codeOf(await server.gql(null, SignInDocument, { input: { userId: 'hal', password: PASSWORD } }))).toBe('FORBIDDEN');
    expect(await server.app.services.database.db.select().from(users).where(eq(users.id, 'hal'))).toEqual([]);
  });
});
