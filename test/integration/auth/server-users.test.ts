// Server-side users: upsertUsers for API keys and admins, and X-Act-As-User naming only users the
// key's org has.
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type UpsertUserInput, UpsertUsersDocument, ViewerDocument } from '../../../src/client/generated/graphql.js';
import { users as usersTable } from '../../../src/db/schema/index.js';
import { createApiKey, createGroup, expectCode, users } from '../../kit/requests.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';

describe.each(backends)('server-side users on %s', (backend) => {
  let server: TestServer;
  let key: string;
  let acmeKey: string;
  let admin: string;
  let t: Record<'alice' | 'bob', string>;

  beforeAll(async () => {
    server = await startServer({ backend });
    key = (await createApiKey(server, { orgId: 'default', name: 'directory' })).key;
    acmeKey = (await createApiKey(server, { orgId: 'acme', name: 'acme-directory' })).key;
    admin = await server.token('ada', { roles: ['admin'], name: 'Ada' });
    t = await users(server, ['alice', 'bob']);
  });
  afterAll(() => server?.stop());

  const rowOf = async (orgId: string, id: string) =>
    (
      await server.app.services.database.db
        .select()
        .from(usersTable)
        .where(and(eq(usersTable.orgId, orgId), eq(usersTable.id, id)))
    )[0];
  const upsert = (auth: Parameters<TestServer['gql']>[0], input: UpsertUserInput[]) => server.gql(auth, UpsertUsersDocument, { input });

  it('lets an API key create users of its org, answered in the order given, whom it may then act as', async () => {
    expectCode(await server.gql({ apiKey: key, actAs: 'cust-2' }, ViewerDocument), 'UNAUTHENTICATED');
    const created = dataOf(
      await upsert({ apiKey: key }, [
        { id: 'cust-2', displayName: 'Customer Two' },
        { id: 'cust-1' },
        { id: 'triage-bot', kind: 'AGENT', roles: ['expert', 'expert'] },
      ]),
    ).upsertUsers;
    expect(created).toEqual([
      { id: 'cust-2', displayName: 'Customer Two', kind: 'USER', roles: [] },
      { id: 'cust-1', displayName: 'cust-1', kind: 'USER', roles: [] },
      { id: 'triage-bot', displayName: 'triage-bot', kind: 'AGENT', roles: ['expert'] },
    ]);
    expect(await rowOf('default', 'cust-2')).toMatchObject({ source: 'SERVICE' });
    const viewer = dataOf(await server.gql({ apiKey: key, actAs: 'cust-2' }, ViewerDocument)).viewer;
    expect(viewer).toMatchObject({ id: 'cust-2', displayName: 'Customer Two' });
    expect(dataOf(await upsert({ apiKey: key }, [])).upsertUsers).toEqual([]);
  });

  it('lets an admin update users: what is left out is kept, roles are replaced, placeholders become service users', async () => {
    // A placeholder, as adding an unknown id to a conversation makes one.
    await createGroup(server, t.alice, ['not-seen-yet']);
    expect(await rowOf('default', 'not-seen-yet')).toMatchObject({ source: 'PLACEHOLDER' });
    const updated = dataOf(
      await upsert(admin, [
        { id: 'bob', roles: ['expert'] },
        { id: 'not-seen-yet', displayName: 'Nadia' },
      ]),
    ).upsertUsers;
    expect(updated).toEqual([
      { id: 'bob', displayName: 'bob name', kind: 'USER', roles: ['expert'] },
      { id: 'not-seen-yet', displayName: 'Nadia', kind: 'USER', roles: [] },
    ]);
    expect(await rowOf('default', 'bob')).toMatchObject({ source: 'TOKEN' });
    expect(await rowOf('default', 'not-seen-yet')).toMatchObject({ source: 'SERVICE' });
    const again = dataOf(await upsert(admin, [{ id: 'bob', displayName: 'Bob B.', roles: [] }])).upsertUsers;
    expect(again).toEqual([{ id: 'bob', displayName: 'Bob B.', kind: 'USER', roles: [] }]);
  });

  it('is for admins and API keys only', async () => {
    const expert = await server.token('erin', { roles: ['expert'] });
    for (const auth of [t.alice, expert]) expectCode(await upsert(auth, [{ id: 'intruder' }]), 'FORBIDDEN');
    expectCode(await upsert(null, [{ id: 'intruder' }]), 'UNAUTHENTICATED');
    expect(await rowOf('default', 'intruder')).toBeUndefined();
  });

  it('refuses a bad batch as a whole (BAD_USER_INPUT), writing none of it', async () => {
    const good = { id: 'would-be-written', displayName: 'Should not exist' };
    const bad: UpsertUserInput[][] = [
      Array.from({ length: 101 }, (_, i) => ({ id: `bulk-${i}` })),
      [good, { id: 'twice' }, { id: 'twice' }],
      [good, { id: '' }],
      [good, { id: '   ' }],
      [good, { id: 'x'.repeat(201) }],
      [good, { id: 'nul\u0000id' }],
      [good, { id: 'long-name', displayName: 'n'.repeat(201) }],
      [good, { id: 'empty-name', displayName: '' }],
      [good, { id: 'many-roles', roles: Array.from({ length: 21 }, (_, i) => `role-${i}`) }],
      [good, { id: 'long-role', roles: ['r'.repeat(201)] }],
      [good, { id: 'empty-role', roles: [''] }],
    ];
    for (const input of bad) expectCode(await upsert({ apiKey: key }, input), 'BAD_USER_INPUT');
    expect(await rowOf('default', 'would-be-written')).toBeUndefined();
    expect(await rowOf('default', 'bulk-0')).toBeUndefined();
    // A kind outside the enum never reaches the service.
    expectCode(await upsert({ apiKey: key }, [{ id: 'robot', kind: 'ROBOT' as never }]), 'BAD_USER_INPUT');
    // 100 is the limit, not over it.
    const hundred = dataOf(
      await upsert(
        { apiKey: key },
        Array.from({ length: 100 }, (_, i) => ({ id: `bulk-${i}` })),
      ),
    ).upsertUsers;
    expect(hundred).toHaveLength(100);
  });

  it("writes into the caller's org only: another org's key makes its own user of the same id", async () => {
    const [acmeAlice] = dataOf(await upsert({ apiKey: acmeKey }, [{ id: 'alice', displayName: 'Alice of Acme', roles: ['admin'] }])).upsertUsers;
    expect(acmeAlice).toMatchObject({ id: 'alice', displayName: 'Alice of Acme' });
    expect(await rowOf('default', 'alice')).toMatchObject({ displayName: 'alice name', roles: [] });
    expect(await rowOf('acme', 'alice')).toMatchObject({ displayName: 'Alice of Acme', roles: ['admin'], source: 'SERVICE' });
    // The default org's key still cannot be acme's users, nor acme's key default's.
    expectCode(await server.gql({ apiKey: acmeKey, actAs: 'bob' }, ViewerDocument), 'UNAUTHENTICATED');
    expect(dataOf(await server.gql({ apiKey: acmeKey, actAs: 'alice' }, ViewerDocument)).viewer.displayName).toBe('Alice of Acme');
  });
});
