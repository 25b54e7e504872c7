// Hostile values in every text argument: every String, ID, JSON and DateTime argument of every
// query and mutation (inside input objects too), and every `after`/`before` cursor, gets values
// meant to break what lies behind it (NUL, lone surrogates, huge and negative numbers, dates out
// of range, very long strings, base64 of garbage and of valid cursor prefixes with bad payloads),
// as variables. No answer may be INTERNAL_SERVER_ERROR, text Postgres cannot store is refused
// with BAD_USER_INPUT before anything runs, and the server answers afterwards.
import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isScalarType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ViewerDocument } from '../../../src/client/generated/graphql.js';
import { schema } from '../../../src/graphql/schema.js';
import { createGroup, send, users } from '../../kit/requests.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';

const TEXT_SCALARS = new Set(['String', 'ID', 'JSON', 'DateTime']);
const UUID = '0b6f7a39-3a4e-4c1e-9f4b-2b1f3c4d5e6f';
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

/** Text no column can hold (NUL; lone surrogates, high and low), refused with BAD_USER_INPUT. */
const UNSTORABLE_TEXT = [['a\u0000b'], ['\uD800', 'ok \u{1F600} then \uDFFFx']];
const UNSTORABLE_JSON = [
  [{ 'k\u0000': 1 }, { a: { b: ['x\u0000'] } }],
  [{ a: [{ b: '\uD800' }] }, { '\uDC00': true }],
];

/** Strings that stress what reads them. */
const STRINGS = ['x'.repeat(50_000), '99999999999999999999', ''];
const DATES = [
  '0000-01-01T00:00:00Z',
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '+275760-09-13T00:00:00Z',
  '-000001-01-01T00:00:00Z',
  '2024-02-30T00:00:00Z',
];
const JSON_VALUES = [
  JSON.parse(`${'['.repeat(1_000)}${']'.repeat(1_000)}`) as unknown,
  1e308,
  Array.from({ length: 10_000 }, (_, i) => i),
  { ['x'.repeat(20_000)]: 'plain string' },
];
/** Cursors of every kind the server issues, with payloads out of range or malformed, and garbage. */
const CURSORS = [
  b64('seq:2147483648'),
  b64('seq:99999999999999'),
  b64(`conv:999999999999999:${UUID}`),
  b64(`conv:8640000000000001:${UUID}`),
  b64(`xr:+275760-09-13T00:00:00.000Z|${UUID}`),
  b64(`xr:0000-01-01T00:00:00.000Z|${UUID}`),
  b64(`xr:+010000-01-01T00:00:00.000Z|${UUID}`),
  b64('ctl:9223372036854775808'),
  b64('audit:9223372036854775807'),
  b64('user:\u0000'),
  Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3]).toString('base64url'),
  'not base64 !!!',
  ...STRINGS,
];
const CURSOR_ARGS = new Set(['after', 'before']);

type Slot = { field: GraphQLField<unknown, unknown>; operation: 'query' | 'mutation'; arg: GraphQLArgument; path: string[]; scalar: string; list: boolean };
type Answer = { data?: Record<string, unknown> | null; errors?: { message: string; path?: string[]; extensions?: { code?: string } }[] };

/** Every text scalar reachable in a field's arguments, through input objects and lists. */
function slotsOf(field: GraphQLField<unknown, unknown>, operation: Slot['operation']): Slot[] {
  const slots: Slot[] = [];
  const walk = (arg: GraphQLArgument, type: GraphQLInputType, path: string[], depth: number) => {
    const inner = isNonNullType(type) ? type.ofType : type;
    const list = isListType(inner);
    const named = getNamedType(type);
    if (isScalarType(named) && TEXT_SCALARS.has(named.name)) slots.push({ field, operation, arg, path, scalar: named.name, list });
    else if (isInputObjectType(named) && depth < 3) {
      for (const f of Object.values(named.getFields())) walk(arg, f.type, [...path, f.name], depth + 1);
    }
  };
  for (const arg of field.args) walk(arg, arg.type, [], 0);
  return slots;
}

describe.each(backends)('hostile values in every text argument on %s', (backend) => {
  let server: TestServer;
  let admin: string;
  let agent: string;
  let conv: string;
  let messageId: string;
  let streamId: string;

  beforeAll(async () => {
    server = await startServer({ backend, env: { ACCOUNTS_ENABLED: 'true' } });
    await users(server, ['bob']);
    admin = await server.token('fuzzer', { name: 'Fuzzer', roles: ['admin', 'expert'] });
    agent = await server.token('fuzz-agent', { name: 'Agent', kind: 'agent' });
    dataOf(await server.gql(admin, ViewerDocument));
    dataOf(await server.gql(agent, ViewerDocument));
    conv = await createGroup(server, admin, ['bob', 'fuzz-agent'], 'fuzz');
    messageId = (await send(server, admin, conv, 'fuzz target')).id;
    const started = await call(agent, 'mutation($i: StartMessageInput!) { startMessage(input: $i) { id } }', { i: { conversationId: conv } });
    streamId = (started.data as { startMessage: { id: string } }).startMessage.id;
  });
  afterAll(() => server?.stop());

  const call = async (auth: string, query: string, variables: Record<string, unknown>) => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as Answer;
  };

  /** A valid value for an argument the fuzzing leaves alone, by its name and type. */
  const baseValue = (field: string, name: string, type: GraphQLInputType): unknown => {
    const named = getNamedType(type);
    if (isListType(isNonNullType(type) ? type.ofType : type)) return [baseValue(field, name, named as GraphQLInputType)];
    if (isInputObjectType(named)) {
      const value: Record<string, unknown> = {};
      for (const f of Object.values(named.getFields())) if (isNonNullType(f.type)) value[f.name] = baseValue(field, f.name, f.type);
      if (named.name === 'SendMessageInput' || named.name === 'StartMessageInput') value.conversationId = conv;
      if (named.name === 'CreateConversationInput') value.type = 'GROUP';
      return value;
    }
    if (isEnumType(named)) return named.getValues()[0]!.value;
    switch (named.name) {
      case 'ID':
        if (name === 'conversationId') return conv;
        if (name === 'userId' || name === 'expertId' || name === 'participantIds') return 'bob';
        if (['editMessage', 'deleteMessage'].includes(field)) return messageId;
        if (field === 'appendMessageChunk') return streamId;
        return conv;
      case 'String':
        return 'fuzz';
      case 'Int':
        return 1;
      case 'Boolean':
        return true;
      case 'DateTime':
        return new Date().toISOString();
      case 'JSON':
        return { fuzz: true };
      default:
        return null;
    }
  };

  /** The arguments of one call with `value` at the slot. */
  const argsWith = (slot: Slot, value: unknown): Record<string, unknown> => {
    const args: Record<string, unknown> = {};
    for (const arg of slot.field.args) if (isNonNullType(arg.type)) args[arg.name] = baseValue(slot.field.name, arg.name, arg.type);
    const v = slot.list ? [value] : value;
    if (slot.path.length === 0) args[slot.arg.name] = v;
    else {
      const input = { ...((args[slot.arg.name] ?? baseValue(slot.field.name, slot.arg.name, slot.arg.type)) as Record<string, unknown>) };
      let at = input;
      for (const key of slot.path.slice(0, -1)) at = at[key] = { ...((at[key] as Record<string, unknown>) ?? {}) };
      at[slot.path.at(-1)!] = v;
      args[slot.arg.name] = input;
    }
    return args;
  };

  /** One operation calling the slot's field with `value` at the slot, every argument a variable. */
  const request = (slot: Slot, value: unknown) => {
    const args = argsWith(slot, value);
    const leaf = isLeafType(getNamedType(slot.field.type));
    const definitions = Object.keys(args).map((name) => `$${name}: ${String(slot.field.args.find((a) => a.name === name)!.type)}`);
    const passed = Object.keys(args).map((name) => `${name}: $${name}`);
    const auth = ['startMessage', 'appendMessageChunk', 'completeMessage'].includes(slot.field.name) ? agent : admin;
    return call(auth, `${slot.operation}(${definitions.join(', ')}) { ${slot.field.name}(${passed.join(', ')})${leaf ? '' : ' { __typename }'} }`, args);
  };

  const lastSeq = async () => {
    const answer = await call(admin, 'query($id: ID!) { conversation(id: $id) { lastSeq } }', { id: conv });
    return (answer.data as { conversation: { lastSeq: number } }).conversation.lastSeq;
  };

  const label = (slot: Slot, value?: unknown) =>
    `${slot.field.name}(${[slot.arg.name, ...slot.path].join('.')})${value === undefined ? '' : ` = ${JSON.stringify(value)?.slice(0, 60)}`}`;

  const expectNoInternalError = (answer: Answer, what: string) => {
    for (const error of answer.errors ?? []) {
      expect(error.extensions?.code, `${what}: ${error.message}`).toMatch(/^(BAD_USER_INPUT|NOT_FOUND|FORBIDDEN|CONFLICT|UNAUTHENTICATED)$/);
      expect(JSON.stringify(error), what).not.toMatch(/stack|Failed query|\.ts:\d/);
    }
  };

  const slots = [schema.getQueryType()!, schema.getMutationType()!].flatMap((root) =>
    Object.values(root.getFields()).flatMap((field) => slotsOf(field, root === schema.getQueryType() ? 'query' : 'mutation')),
  );

  it('finds the arguments to fuzz in the schema', () => {
    // The enumeration itself is checked: a schema change that hid the arguments would pass silently.
    const names = slots.map((s) => label(s));
    expect(names).toEqual(
      expect.arrayContaining(['messages(after)', 'conversations(before)', 'expertRequests(after)', 'auditLog(action)', 'sendMessage(input.metadata)']),
    );
    expect(slots.length).toBeGreaterThan(50);
  });

  it('refuses text Postgres cannot store with BAD_USER_INPUT, in every argument, before anything runs', async () => {
    const seqBefore = await lastSeq();
    for (const [i, slot] of slots.entries()) {
      // A NUL, and a lone surrogate (high or low, in turns: every argument gets both kinds of value).
      for (const values of slot.scalar === 'JSON' ? UNSTORABLE_JSON : UNSTORABLE_TEXT) {
        const value = values[i % values.length];
        const answer = await request(slot, value);
        const what = label(slot, value);
        expect(answer.errors?.length, `${what}: ${JSON.stringify(answer.data)}`).toBe(1);
        expect(answer.errors![0]!.extensions?.code, `${what}: ${answer.errors![0]!.message}`).toBe('BAD_USER_INPUT');
        expect(answer.data ?? null, what).toBeNull();
      }
    }
    expect(await lastSeq()).toBe(seqBefore);
  });

  const hostileValues = (slot: Slot) =>
    slot.scalar === 'DateTime' ? DATES : slot.scalar === 'JSON' ? JSON_VALUES : CURSOR_ARGS.has(slot.arg.name) ? CURSORS : STRINGS;

  it('answers hostile cursors, strings and dates in queries without an internal error', async () => {
    for (const slot of slots.filter((s) => s.operation === 'query')) {
      for (const value of hostileValues(slot)) expectNoInternalError(await request(slot, value), label(slot, value));
    }
    // The one nested field with cursors: a conversation's messages.
    for (const arg of ['after', 'before']) {
      for (const cursor of CURSORS) {
        const answer = await call(admin, `query($id: ID!, $c: String) { conversation(id: $id) { messages(${arg}: $c) { __typename } } }`, {
          id: conv,
          c: cursor,
        });
        expectNoInternalError(answer, `Conversation.messages(${arg}) = ${cursor.slice(0, 40)}`);
      }
    }
  });

  it('answers hostile strings, dates and JSON in mutations without an internal error, and keeps serving', async () => {
    for (const slot of slots.filter((s) => s.operation === 'mutation')) {
      for (const value of hostileValues(slot)) expectNoInternalError(await request(slot, value), label(slot, value));
    }
    expect(dataOf(await server.gql(admin, ViewerDocument)).viewer.id).toBe('fuzzer');
  });
});
