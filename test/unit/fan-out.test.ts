import { type GraphQLObjectType, getNamedType, isObjectType, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { resultVariables, selectsOnlyViewerIndependent } from '../../src/graphql/fan-out.js';
import { schema } from '../../src/graphql/schema.js';
import { isViewerIndependent } from '../../src/graphql/viewer-independent.js';

/** The subscription fields declared viewer-independent: their documents may be shared. */
const sharedSubscriptions = () => Object.values(schema.getSubscriptionType()!.getFields()).filter(isViewerIndependent);

/** Every field declared viewer-independent, as "Type.field". */
function declared(): string[] {
  return Object.values(schema.getTypeMap())
    .filter(isObjectType)
    .flatMap((type) =>
      Object.values(type.getFields())
        .filter(isViewerIndependent)
        .map((field) => `${type.name}.${field.name}`),
    );
}

/** Every field reachable from the given subscription fields' payloads, as "Type.field". */
function reachableFrom(rootFields: readonly string[]): string[] {
  const seen = new Set<string>();
  const fields: string[] = [];
  const walk = (type: GraphQLObjectType) => {
    if (seen.has(type.name)) return;
    seen.add(type.name);
    for (const field of Object.values(type.getFields())) {
      fields.push(`${type.name}.${field.name}`);
      const named = getNamedType(field.type);
      if (isObjectType(named)) walk(named);
    }
  };
  const subscription = schema.getSubscriptionType()!.getFields();
  for (const name of rootFields) walk(getNamedType(subscription[name]!.type) as GraphQLObjectType);
  return fields;
}

describe('fan-out sharing', () => {
  it('has reviewed every field the shared subscriptions can reach', () => {
    // A field added to a type reachable from a shared subscription fails this test: review whether
    // its value can differ between two viewers allowed to see the same event. If it cannot, declare
    // it with `viewerIndependent` (src/graphql/viewer-independent.ts); if it can, leave it
    // undeclared and list it here (documents selecting it are then executed per viewer).
    const perViewer: string[] = ['ReactionGroup.viewerReacted'];
    const shared = sharedSubscriptions().map((field) => field.name);
    expect(shared.length).toBeGreaterThan(0);
    const declaredFields = new Set(declared());
    const unreviewed = reachableFrom(shared).filter((f) => !declaredFields.has(f));
    expect(unreviewed).toEqual(perViewer);
  });

  it('shares every subscription whose live events are the same for each subscriber', () => {
    // A subscription left out here executes each event once per subscriber: 1,000 subscribers of
    // one streamed answer meant 1,000 executions per part until messageStream was declared.
    // Those listed are per viewer: their events are made for, or resolved with, the viewer.
    const all = Object.values(schema.getSubscriptionType()!.getFields());
    const perViewer = ['conversationEvents', 'expertRequestUpdated'];
    expect(all.filter((field) => !isViewerIndependent(field)).map((field) => field.name)).toEqual(perViewer);
  });

  it('shares documents that select only reviewed fields, through fragments too', () => {
    const shared = parse(`
      subscription { messageAdded { ...M sender { presence { status } } __typename } }
      fragment M on Message { id seq content replyTo { id sender { displayName } } }
    `);
    expect(selectsOnlyViewerIndependent(schema, shared)).toBe(true);
    const perViewer = parse('subscription { expertRequestUpdated { id } }');
    expect(selectsOnlyViewerIndependent(schema, perViewer)).toBe(false);
  });
});

describe('fan-out sharing key', () => {
  it('leaves out variables used only in the root field arguments, and keeps those the result can depend on', () => {
    const document = parse(`
      subscription S($c: ID, $after: Int, $withContent: Boolean!, $big: Boolean!, $live: Boolean!) {
        messageAdded(conversationId: $c, afterSeq: $after) @include(if: $live) {
          seq content @include(if: $withContent)
          ...Extra
        }
      }
      fragment Extra on Message { metadata @skip(if: $big) }
    `);
    expect(resultVariables(document).sort()).toEqual(['big', 'live', 'withContent']);
    expect(resultVariables(parse('subscription($c: ID!) { messageAdded(conversationId: $c) { id } }'))).toEqual([]);
    // Root fields reached through a fragment are not told apart: every variable counts there.
    expect(resultVariables(parse('subscription($c: ID) { ...R } fragment R on Subscription { messageAdded(conversationId: $c) { id } }'))).toEqual(['c']);
  });

  it('may leave them out: every shared subscription field resolves to its event as it came, whatever its arguments', () => {
    const context = { services: { loadersFor: () => ({}) }, viewer: null };
    for (const field of sharedSubscriptions()) {
      const event = { an: 'event' };
      const resolved = field.resolve!(event, { conversationId: 'c1', afterSeq: 3, userIds: ['u'] }, context, {} as never);
      expect(resolved, field.name).toBe(event);
    }
  });
});

describe('fan-out masking', () => {
  it('ends a stream that fails with the masked error: an unexpected one without internals, ours with its code', async () => {
    const { createSchema } = await import('graphql-yoga');
    const { createFanOut } = await import('../../src/graphql/fan-out.js');
    const { createMaskError } = await import('../../src/graphql/mask.js');
    const { ForbiddenError } = await import('../../src/graphql/errors.js');
    const pino = (await import('pino')).default;
    const failing = (error: Error) =>
      async function* () {
        yield { tick: 1 };
        throw error;
      };
    const errors: Record<string, Error> = {
      internal: new Error('Failed query: select secret from users'),
      forbidden: new ForbiddenError('You were removed'),
    };
    const testSchema = createSchema({
      typeDefs: 'type Query { ok: Boolean } type Subscription { tick(kind: String!): Int }',
      resolvers: {
        Subscription: { tick: { subscribe: (_: unknown, { kind }: { kind: string }) => failing(errors[kind]!)(), resolve: (e: { tick: number }) => e.tick } },
      },
    });
    const counter = () => ({ inc() {}, dec() {} });
    const fanOut = createFanOut({ maskError: createMaskError(pino({ level: 'silent' })), metrics: { activeSubscriptions: counter(), deliveries: counter() } });
    const run = async (kind: string) => {
      const stream = (await fanOut.subscribe({
        schema: testSchema,
        document: parse(`subscription { tick(kind: "${kind}") }`),
        contextValue: { viewer: null },
      })) as AsyncIterableIterator<unknown>;
      expect(await stream.next()).toEqual({ value: { data: { tick: 1 } }, done: false });
      return stream.next().then(
        () => null,
        (err: { message: string; extensions?: Record<string, unknown> }) => err,
      );
    };
    const internal = await run('internal');
    expect(internal?.message).toBe('Internal server error');
    expect(internal?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    const forbidden = await run('forbidden');
    expect(forbidden?.message).toBe('You were removed');
    expect(forbidden?.extensions?.code).toBe('FORBIDDEN');
  });
});
