import {
  type ASTNode,
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  type GraphQLError,
  type GraphQLSchema,
  getNamedType,
  isObjectType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import { isViewerIndependent } from './viewer-independent.js';

/** A running subscription, as endStreams sees it. */
type Running = { return(): Promise<unknown> };

/** What a subscription reports as it runs (Prometheus). */
type SubscriptionMetrics = { activeSubscriptions: { inc(): void; dec(): void }; deliveries: { inc(): void } };

export type FanOut = {
  /** graphql-js's subscribe, with events executed once per operation; results are masked. */
  subscribe(args: ExecutionArgs): Promise<ExecutionResult | AsyncIterableIterator<ExecutionResult>>;
  /** The same for Yoga's own transports (SSE): it replaces envelop's subscribe function. */
  plugin: Plugin<Context>;
  /**
   * Ends every subscription of Yoga's transports, now and from now on (shutdown): each completes,
   * so Yoga sends `complete` and ends its response, and the client reconnects and resumes as
   * after a socket closed with 1001. Sockets are closed by their own server, without a complete.
   */
  endStreams(): void;
};

/**
 * Executes each subscription event once per operation, not once per subscriber.
 *
 * A message sent to a conversation with 1,000 subscribers is one event object on this instance
 * (pub/sub delivers one snapshot to all local listeners). graphql-js would resolve it 1,000 times,
 * once per subscription; here the first subscriber to reach it executes it and every other
 * subscription running the same document with the same variables (those its result can depend
 * on, see resultVariables) gets that result, masked once
 * (`maskError`, as Yoga masks; so is an error ending the stream). Results are only shared when
 * every field the document selects is declared viewer-independent (see viewer-independent.ts); other
 * documents are executed per subscriber. Events made per subscriber (typing states) never match;
 * rows read back to fill a gap are shared by the subscribers reading the same gap (CatchUpReader).
 *
 * Results live as long as their event object does (a WeakMap keyed by the event).
 *
 * The WebSocket server calls `subscribe` directly, past envelop: envelop would wrap each
 * subscription in three more async iterators (for its onNext, onEnd and error hooks), and their
 * work (masking, counting) is done here.
 */
export function createFanOut({ maskError, metrics }: { maskError: (error: unknown) => Error; metrics: SubscriptionMetrics }): FanOut {
  const results = new WeakMap<object, Map<string, ExecutionResult | Promise<ExecutionResult>>>();
  const documentIds = new WeakMap<DocumentNode, { id: number; shared: boolean; resultVariables: string[] }>();
  let nextDocumentId = 0;

  const describe = (schema: GraphQLSchema, document: DocumentNode) => {
    let known = documentIds.get(document);
    if (!known) {
      // Yoga's parser cache hands out one DocumentNode per query text, so this runs once per text.
      known = { id: nextDocumentId++, shared: selectsOnlyViewerIndependent(schema, document), resultVariables: resultVariables(document) };
      documentIds.set(document, known);
    }
    return known;
  };

  const masked = (result: ExecutionResult): ExecutionResult =>
    result.errors?.length ? { ...result, errors: result.errors.map((e) => maskError(e) as GraphQLError) } : result;

  /** Subscriptions running over Yoga's transports, until they end (see endStreams). */
  const streams = new Set<Running>();
  let ending = false;

  const subscribe = async (args: ExecutionArgs, tracked?: Set<Running>) => {
    const stream = await createSourceEventStream(args);
    if (!isAsyncIterable(stream)) return masked(stream);
    const document = describe(args.schema, args.document);
    const variables = args.variableValues ?? {};
    // An omitted variable (its default applies) and a null one are told apart, as in the request.
    const used = Object.fromEntries(document.resultVariables.filter((name) => name in variables).map((name) => [name, variables[name]]));
    const key = [document.id, args.operationName ?? '', JSON.stringify(used)].join('\u0001');
    const executeMasked = (event: unknown): ExecutionResult | Promise<ExecutionResult> => {
      const executed = execute({ ...args, rootValue: event }) as ExecutionResult | Promise<ExecutionResult>;
      return executed instanceof Promise ? executed.then(masked) : masked(executed);
    };
    // A result is kept only where another subscription can use it: per-viewer documents are
    // executed for their subscriber and let go once sent.
    const executeOnce = (event: unknown): ExecutionResult | Promise<ExecutionResult> => {
      if (!document.shared || event === null || typeof event !== 'object') return executeMasked(event);
      let byKey = results.get(event);
      if (!byKey) results.set(event, (byKey = new Map()));
      let result = byKey.get(key);
      if (!result) byKey.set(key, (result = executeMasked(event)));
      return result;
    };
    return new Subscription(stream[Symbol.asyncIterator](), executeOnce, metrics, maskError, tracked);
  };

  const subscribeStream = async (args: ExecutionArgs) => {
    const result = await subscribe(args, streams);
    if (ending && result instanceof Subscription) void result.return();
    return result;
  };

  return {
    subscribe: (args) => subscribe(args),
    plugin: {
      onSubscribe({ setSubscribeFn }) {
        setSubscribeFn(subscribeStream as never);
      },
    },
    endStreams: () => {
      ending = true;
      for (const stream of streams) void stream.return();
    },
  };
}

/**
 * The variables an event's result can depend on: every variable the document uses, except in the
 * arguments of its operations' root fields. Those only choose the stream (a conversation, where
 * to resume with afterSeq); the root fields' resolvers return the event as it came. Left out of
 * the sharing key, subscribers that resumed from different points, or watch different
 * conversations, still share each live event's execution.
 */
export function resultVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  const collect = (node: ASTNode) => visit(node, { [Kind.VARIABLE]: (variable) => void names.add(variable.name.value) });
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) {
      collect(definition);
      continue;
    }
    for (const directive of definition.directives ?? []) collect(directive);
    for (const selection of definition.selectionSet.selections) {
      if (selection.kind !== Kind.FIELD) {
        collect(selection);
        continue;
      }
      for (const directive of selection.directives ?? []) collect(directive);
      if (selection.selectionSet) collect(selection.selectionSet);
    }
  }
  return [...names];
}

/** Whether every field `document` selects is declared viewer-independent (or is `__typename`). */
export function selectsOnlyViewerIndependent(schema: GraphQLSchema, document: DocumentNode): boolean {
  const typeInfo = new TypeInfo(schema);
  let independent = true;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      [Kind.FIELD](node) {
        const name = node.name.value;
        if (name === '__typename') return;
        const field = typeInfo.getFieldDef();
        const parent = typeInfo.getParentType();
        if (!field || !parent || !isObjectType(getNamedType(parent)) || !isViewerIndependent(field)) independent = false;
      },
    }),
  );
  return independent;
}

/**
 * A running subscription: its source's events mapped to results, counted in the metrics. Unlike
 * an async generator, return() reaches the source at once, even while a next() is waiting for an
 * event that may never come. A class, not an object literal: a server holds one per subscription,
 * and methods on a prototype cost nothing each.
 */
class Subscription<T> implements AsyncIterableIterator<ExecutionResult> {
  private ended = false;

  constructor(
    private readonly source: AsyncIterator<T>,
    private readonly map: (event: T) => ExecutionResult | Promise<ExecutionResult>,
    private readonly metrics: SubscriptionMetrics,
    /** What a failure of the stream becomes for the client (an unexpected one: INTERNAL_SERVER_ERROR). */
    private readonly maskError: (error: unknown) => Error,
    /** Where the subscription is listed while it runs, if anywhere. */
    private readonly runningIn?: Set<Running>,
  ) {
    metrics.activeSubscriptions.inc();
    runningIn?.add(this);
  }

  async next(): Promise<IteratorResult<ExecutionResult>> {
    const step = await this.source.next().catch((err) => {
      this.end();
      throw this.maskError(err);
    });
    if (step.done) {
      this.end();
      return { value: undefined, done: true };
    }
    try {
      const value = await this.map(step.value);
      this.metrics.deliveries.inc();
      return { value, done: false };
    } catch (err) {
      await this.close().catch(() => {});
      throw this.maskError(err);
    }
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    await this.close();
    return { value: undefined, done: true };
  }

  async throw(err?: unknown): Promise<IteratorResult<ExecutionResult>> {
    await this.close();
    throw err;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  private end() {
    if (this.ended) return;
    this.ended = true;
    this.metrics.activeSubscriptions.dec();
    this.runningIn?.delete(this);
  }

  private async close() {
    this.end();
    await this.source.return?.();
  }
}
