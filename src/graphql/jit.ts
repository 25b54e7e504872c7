import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  GraphQLError,
  getOperationAST,
  getVariableValues,
  type OperationDefinitionNode,
  visit,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';

export type JitOptions = {
  /**
   * Runs of an operation through graphql-js before it is compiled. Compiling costs several runs'
   * worth of CPU (a few milliseconds for a page of messages), so one-off queries are never compiled.
   */
  runsBeforeCompiling?: number;
  /** Compiled operations kept (about 50 KB each for a page of messages); the oldest makes room. */
  maxCompiled?: number;
  /** Told of each compilation (tests). */
  onCompile?: (operationName: string | undefined) => void;
};

type Entry = { runs: number; operation?: OperationDefinitionNode; query?: CompiledQuery['query'] | null };

/**
 * Runs queries through graphql-jit: each document (Yoga's parser cache hands out one object per
 * query text) is compiled into a function that resolves its selection without graphql-js's
 * generic walk over every field. For a page of 50 messages that walk was the largest share of the
 * request's CPU.
 *
 * Clients see what graphql-js would have answered: the same resolvers run in the same way, errors
 * are rebuilt as graphql-js builds them (message, locations, path, the error thrown, so masking
 * and codes come out the same, and `errors` before `data`), and a request whose variables do not
 * coerce, or a document graphql-jit cannot compile, is left to the default executor. Only the order
 * of several errors in one response may differ (GraphQL leaves it open).
 * Queries only: mutations are small, and subscriptions execute through the fan-out plugin.
 */
export function jitPlugin({ runsBeforeCompiling = 10, maxCompiled = 200, onCompile }: JitOptions = {}): Plugin {
  const byDocument = new WeakMap<DocumentNode, Map<string, Entry>>();
  /** Entries holding a compiled query, oldest first. */
  const compiled = new Set<Entry>();

  const compile = (args: ExecutionArgs, entry: Entry) => {
    entry.operation = getOperationAST(args.document, args.operationName) ?? undefined;
    const result = entry.operation?.operation === 'query' ? compileQuery(args.schema, args.document, args.operationName ?? undefined) : null;
    entry.query = result && isCompiledQuery(result) ? result.query : null;
    if (!entry.query) return;
    onCompile?.(entry.operation!.name?.value);
    if (compiled.size >= maxCompiled) {
      const oldest = compiled.values().next().value!;
      compiled.delete(oldest);
      // Counted again from zero: compiled again if it is still in use.
      oldest.query = undefined;
      oldest.runs = 0;
    }
    compiled.add(entry);
  };

  const compiledFor = (args: ExecutionArgs): Entry['query'] => {
    let byOperation = byDocument.get(args.document);
    if (!byOperation) byDocument.set(args.document, (byOperation = new Map()));
    const name = args.operationName ?? '';
    let entry = byOperation.get(name);
    if (!entry) byOperation.set(name, (entry = { runs: 0 }));
    if (entry.query === undefined) {
      if (entry.runs++ < runsBeforeCompiling) return null;
      compile(args, entry);
    }
    if (!entry.query) return null;
    // graphql-jit words variable errors its own way: graphql-js reports them, as it always has.
    const variables = getVariableValues(args.schema, entry.operation!.variableDefinitions ?? [], args.variableValues ?? {});
    return variables.errors ? null : entry.query;
  };

  return {
    onExecute({ args, setExecuteFn }) {
      const query = compiledFor(args);
      if (!query) return;
      setExecuteFn(((a: ExecutionArgs) => {
        const result = query(a.rootValue, a.contextValue, a.variableValues);
        return isPromise(result) ? result.then((r) => asGraphqlJs(r, a.document)) : asGraphqlJs(result, a.document);
      }) as never);
    },
  };
}

/** The result as graphql-js lays it out: `{ data }`, or `{ errors, data }` with its own error objects. */
function asGraphqlJs(result: ExecutionResult, document: DocumentNode): ExecutionResult {
  if (!result.errors?.length) return result;
  return { errors: result.errors.map((error) => rebuildError(error, document)), data: result.data };
}

/**
 * graphql-jit's errors carry locations but not the AST nodes graphql-js attaches (the mask keeps
 * only those), and no error thrown for the failures it detects itself (a null in a non-null
 * field, a value a scalar cannot serialize). graphql-js wraps those in a plain Error, which the
 * mask turns into INTERNAL_SERVER_ERROR: so does this.
 */
function rebuildError(error: GraphQLError, document: DocumentNode): GraphQLError {
  const body = document.loc?.source.body;
  const fields = fieldsByPosition(document);
  const nodes = body === undefined ? [] : (error.locations ?? []).map((l) => fields.get(positionOf(body, l.line, l.column)));
  return new GraphQLError(error.message, {
    nodes: nodes.length > 0 && nodes.every((n) => n !== undefined) ? (nodes as FieldNode[]) : undefined,
    path: error.path,
    originalError: error.originalError ?? new Error(error.message),
  });
}

const fieldsOfDocument = new WeakMap<DocumentNode, Map<number, FieldNode>>();

/** The document's fields by where they start (made when one of its operations first errs). */
function fieldsByPosition(document: DocumentNode): Map<number, FieldNode> {
  let fields = fieldsOfDocument.get(document);
  if (!fields) {
    const found = new Map<number, FieldNode>();
    visit(document, { Field: (node) => void (node.loc && found.set(node.loc.start, node)) });
    fieldsOfDocument.set(document, (fields = found));
  }
  return fields;
}

/** The offset of a 1-based line and column in `body` (graphql-js's getLocation, inverted). */
function positionOf(body: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) offset = body.indexOf('\n', offset) + 1;
  return offset + column - 1;
}

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> => typeof (value as Promise<T>)?.then === 'function';
