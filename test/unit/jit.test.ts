// The JIT executor answers what graphql-js answers: the same Yoga setup (mask, contract codes)
// with and without jitPlugin, over the cases where the two executors differ by nature (errors of
// every origin, null bubbling, serialization, variables, several operations). Byte for byte, except
// the order of several errors in one response, which GraphQL leaves open (graphql-js lists them
// as its promises settle; graphql-jit lists resolver errors before the nulls it propagates).
import {
  GraphQLBoolean,
  GraphQLEnumType,
  GraphQLID,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  type GraphQLNullableType,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
} from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { createYoga, type Plugin } from 'graphql-yoga';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { contractCodesPlugin } from '../../src/graphql/contract-codes.js';
import { ForbiddenError } from '../../src/graphql/errors.js';
import { jitPlugin } from '../../src/graphql/jit.js';
import { createMaskError } from '../../src/graphql/mask.js';

const later = <T>(value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), 1));
const nonNull = <T extends GraphQLNullableType>(type: T) => new GraphQLNonNull(type);

const Color = new GraphQLEnumType({ name: 'Color', values: { RED: {}, BLUE: {} } });

const Item: GraphQLObjectType = new GraphQLObjectType({
  name: 'Item',
  fields: () => ({
    id: { type: nonNull(GraphQLID) },
    n: { type: nonNull(GraphQLInt) },
    // Every third item fails, in several ways.
    maybe: { type: GraphQLString, resolve: (i: { n: number }) => (i.n % 3 === 2 ? Promise.reject(new ForbiddenError(`no ${i.n}`)) : `item ${i.n}`) },
    must: { type: nonNull(GraphQLString), resolve: (i: { n: number }) => (i.n % 3 === 2 ? null : `item ${i.n}`) },
    child: { type: Item, resolve: (i: { n: number }) => (i.n < 3 ? { id: `c${i.n}`, n: i.n + 10 } : null) },
  }),
});

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      hello: { type: nonNull(GraphQLString), args: { name: { type: GraphQLString } }, resolve: (_r, a) => `hello ${a.name ?? 'you'}` },
      forbidden: { type: GraphQLString, resolve: () => later(null).then(() => Promise.reject(new ForbiddenError('not yours'))) },
      forbiddenNonNull: {
        type: nonNull(GraphQLString),
        resolve: () => {
          throw new ForbiddenError('not yours');
        },
      },
      crash: {
        type: GraphQLString,
        resolve: () => {
          throw new Error('SELECT secret FROM somewhere failed');
        },
      },
      nullNonNull: { type: nonNull(GraphQLString), resolve: () => later(null) },
      badInt: { type: GraphQLInt, resolve: () => 'many' },
      badEnum: { type: Color, resolve: () => 'GREEN' },
      badDate: { type: DateTimeResolver, resolve: () => new Date(Number.NaN) },
      date: { type: nonNull(DateTimeResolver), args: { at: { type: DateTimeResolver } }, resolve: (_r, a) => a.at ?? new Date(0) },
      flag: { type: GraphQLBoolean, args: { on: { type: nonNull(GraphQLBoolean) } }, resolve: (_r, a) => a.on },
      items: {
        type: nonNull(new GraphQLList(nonNull(Item))),
        args: { count: { type: nonNull(GraphQLInt) } },
        resolve: (_r, a) => later(Array.from({ length: a.count }, (_, n) => ({ id: `i${n}`, n }))),
      },
      looseItems: {
        type: new GraphQLList(Item),
        resolve: () => Array.from({ length: 4 }, (_, n) => ({ id: `i${n}`, n })),
      },
    },
  }),
});

function yoga(plugins: Plugin[]) {
  return createYoga({
    schema,
    plugins: [contractCodesPlugin(), ...plugins],
    maskedErrors: { maskError: createMaskError(pino({ level: 'silent' })) },
    logging: false,
  });
}

const cases: [string, { query: string; variables?: Record<string, unknown>; operationName?: string }][] = [
  ['plain fields, aliases, arguments', { query: '{ a: hello b: hello(name: "x") __typename }' }],
  [
    'variables, directives, fragments',
    {
      query: 'query Q($n: String, $s: Boolean!) { hello(name: $n) ...F @skip(if: $s) } fragment F on Query { flag(on: true) }',
      variables: { n: 'v', s: false },
    },
  ],
  ['an AppError in a nullable field', { query: '{ hello forbidden }' }],
  ['an AppError in a non-null field', { query: '{ hello forbiddenNonNull }' }],
  ['an unexpected error (masked)', { query: '{ hello crash }' }],
  ['null in a non-null field', { query: '{ hello nullNonNull }' }],
  ['values a scalar or enum cannot serialize', { query: '{ badInt badEnum badDate date }' }],
  ['errors inside a list, nullable and bubbling', { query: '{ looseItems { id maybe must child { id must } } }' }],
  ['a non-null list losing an item', { query: '{ items(count: 4) { id maybe must } }' }],
  ['a long list, errors all the way down', { query: '{ items(count: 7) { id n maybe child { n maybe child { n } } } }' }],
  ['variables of the wrong type', { query: 'query Q($c: Int!) { items(count: $c) { id } }', variables: { c: 'x' } }],
  ['a missing required variable', { query: 'query Q($on: Boolean!) { flag(on: $on) }', variables: {} }],
  ['an invalid DateTime variable', { query: 'query Q($at: DateTime) { date(at: $at) }', variables: { at: 'yesterday' } }],
  ['a valid DateTime variable', { query: 'query Q($at: DateTime) { date(at: $at) }', variables: { at: '2024-02-29T12:00:00+02:00' } }],
  ['one operation of several', { query: 'query A { hello } query B { forbidden hello(name: "b") }', operationName: 'B' }],
  ['errors positioned on later lines', { query: 'query Q {\n  hello\n  looseItems {\n    id\n      must\n  }\n  forbidden\n}' }],
];

describe('jitPlugin', () => {
  const reference = yoga([]);
  const jitted = yoga([jitPlugin({ runsBeforeCompiling: 1 })]);
  const answer = async (server: ReturnType<typeof yoga>, body: object) => {
    const res = await server.fetch('http://test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.text() };
  };

  /** The response with its errors in a fixed order (the same text when there is at most one). */
  const canonical = ({ status, body }: { status: number; body: string }) => {
    const parsed = JSON.parse(body) as { errors?: unknown[] };
    if ((parsed.errors?.length ?? 0) < 2) return { status, body };
    return { status, body: JSON.stringify({ ...parsed, errors: parsed.errors!.map((e) => JSON.stringify(e)).sort() }) };
  };

  it.each(cases)('answers as graphql-js does: %s', async (_name, body) => {
    const expected = canonical(await answer(reference, body));
    // The first run goes through graphql-js, the next ones through the compiled query.
    for (let run = 0; run < 3; run++) expect(canonical(await answer(jitted, body))).toEqual(expected);
  });

  it('compiles an operation only once it has run often enough, and keeps a bounded number', async () => {
    const compiledNames: (string | undefined)[] = [];
    const server = yoga([jitPlugin({ runsBeforeCompiling: 3, maxCompiled: 2, onCompile: (name) => compiledNames.push(name) })]);
    const run = async (name: string) => {
      const body = { query: `query ${name} { hello(name: "${name}") }` };
      expect(await answer(server, body)).toEqual(await answer(reference, body));
    };
    for (let i = 0; i < 3; i++) await run('A');
    expect(compiledNames).toEqual([]);
    await run('A');
    expect(compiledNames).toEqual(['A']);
    for (let i = 0; i < 4; i++) await run('B');
    // A third one pushes out the oldest, A, whose runs count again from zero.
    for (let i = 0; i < 4; i++) await run('C');
    expect(compiledNames).toEqual(['A', 'B', 'C']);
    for (let i = 0; i < 3; i++) await run('A');
    expect(compiledNames).toEqual(['A', 'B', 'C']);
    await run('A');
    expect(compiledNames).toEqual(['A', 'B', 'C', 'A']);
  });
});
