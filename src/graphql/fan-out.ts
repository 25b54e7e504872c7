import {
  createSourceEventStream,
  execute,
  getNamedType,
  isObjectType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';

/**
 * Fields that resolve the same for every subscriber allowed to receive the event they belong to:
 * they read the event itself, or rows of the event's org (a sender, a replied-to message, a
 * presence), never the viewer. Reviewed one by one; a field missing here is not wrong, its
 * operations are just executed per viewer.
 */
export const VIEWER_INDEPENDENT: Record<string, readonly string[]> = {
  Message: [
    'id', 'conversationId', 'seq', 'sender', 'senderKind', 'content', 'contentType', 'kind', 'replyTo', 'priority',
    'interruptible', 'preemptedBy', 'runId', 'traceId', 'metadata', 'clientMessageId', 'createdAt', 'editedAt', 'deletedAt',
  ],
  User: ['id', 'displayName', 'kind', 'roles', 'presence'],
  Presence: ['status', 'lastSeenAt'],
  ControlEvent: ['id', 'conversationId', 'event', 'target', 'reason', 'runId', 'traceId', 'issuedBy', 'effectiveAt', 'createdAt'],
  TypingEvent: ['conversationId', 'user', 'isTyping'],
  PresenceEvent: ['user', 'status', 'lastSeenAt'],
  Subscription: ['messageAdded', 'messageUpdated', 'messageDeleted', 'typing', 'presence', 'controlEvent'],
};

/**
 * Executes each subscription event once per operation, not once per subscriber.
 *
 * A message sent to a conversation with 1,000 subscribers is one event object on this instance
 * (pub/sub delivers one snapshot to all local listeners). graphql-js would resolve it 1,000 times,
 * once per subscription; here the first subscriber to reach it executes it and every other
 * subscription running the same document with the same variables gets that result. Results are
 * only shared across viewers when every field the document selects is viewer-independent (see
 * VIEWER_INDEPENDENT); otherwise the viewer is part of the key. Events made per subscriber (rows
 * read back to fill a gap, typing states) simply never match.
 *
 * Results live as long as their event object does (a WeakMap keyed by the event).
 */
export function fanOutPlugin(): Plugin<Context> {
  const results = new WeakMap<object, Map<string, ExecutionResult | Promise<ExecutionResult>>>();
  const documentIds = new WeakMap<DocumentNode, { id: number; shared: boolean }>();
  let nextDocumentId = 0;

  const describe = (schema: GraphQLSchema, document: DocumentNode) => {
    let known = documentIds.get(document);
    if (!known) {
      // Yoga's parser cache hands out one DocumentNode per query text, so this runs once per text.
      known = { id: nextDocumentId++, shared: selectsOnlyViewerIndependent(schema, document) };
      documentIds.set(document, known);
    }
    return known;
  };

  const subscribe = async (args: ExecutionArgs) => {
    const stream = await createSourceEventStream(args);
    if (!isAsyncIterator(stream)) return stream;
    const document = describe(args.schema, args.document);
    const viewer = (args.contextValue as Context).viewer;
    const key = [
      document.id,
      args.operationName ?? '',
      JSON.stringify(args.variableValues ?? {}),
      document.shared ? '' : `${viewer?.orgId}\u0000${viewer?.userId}`,
    ].join('\u0001');
    return new MappedEvents(stream[Symbol.asyncIterator](), (event: unknown) => {
      if (event === null || typeof event !== 'object') return execute({ ...args, rootValue: event });
      let byKey = results.get(event);
      if (!byKey) results.set(event, (byKey = new Map()));
      let result = byKey.get(key);
      if (!result) {
        result = execute({ ...args, rootValue: event }) as ExecutionResult | Promise<ExecutionResult>;
        byKey.set(key, result);
      }
      return result;
    });
  };

  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribe as never);
    },
  };
}

/** Whether every field `document` selects is in VIEWER_INDEPENDENT (or is `__typename`). */
export function selectsOnlyViewerIndependent(schema: GraphQLSchema, document: DocumentNode): boolean {
  const typeInfo = new TypeInfo(schema);
  let independent = true;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      [Kind.FIELD](node) {
        const name = node.name.value;
        if (name === '__typename') return;
        const parent = typeInfo.getParentType();
        const type = parent && getNamedType(parent);
        if (!type || !isObjectType(type) || !VIEWER_INDEPENDENT[type.name]?.includes(name)) independent = false;
      },
    }),
  );
  return independent;
}

function isAsyncIterator(value: unknown): value is AsyncIterator<unknown> & AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === 'function';
}

/**
 * Maps an event stream to results. Unlike an async generator, return() reaches the source at
 * once, even while a next() is waiting for an event that may never come. A class, not an object
 * literal: a server holds one per subscription, and methods on a prototype cost nothing each.
 */
class MappedEvents<T, R> implements AsyncIterableIterator<R> {
  constructor(
    private readonly source: AsyncIterator<T>,
    private readonly map: (event: T) => R | Promise<R>,
  ) {}

  async next(): Promise<IteratorResult<R>> {
    const step = await this.source.next();
    if (step.done) return step;
    try {
      return { value: await this.map(step.value), done: false };
    } catch (err) {
      await this.close().catch(() => {});
      throw err;
    }
  }

  async return(): Promise<IteratorResult<R>> {
    await this.close();
    return { value: undefined, done: true };
  }

  async throw(err?: unknown): Promise<IteratorResult<R>> {
    await this.close();
    throw err;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  private async close() {
    await this.source.return?.();
  }
}
