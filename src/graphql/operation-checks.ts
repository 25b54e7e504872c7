import { type DocumentNode, type ExecutionArgs, GraphQLError, getOperationAST, Kind, visit } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { UNSTORABLE_TEXT, unstorableTextIn } from '../lib/validate.js';
import { operationCost } from './cost.js';

export type CheckedArgs = Pick<ExecutionArgs, 'schema' | 'document' | 'operationName' | 'variableValues'>;

/** What a document's operation declares and holds, worked out once per document and operation. */
type Shape = { variables: string[]; unstorableLiteral: boolean };
const shapes = new WeakMap<DocumentNode, Map<string, Shape>>();

export const refusal = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });

/**
 * Why an operation must not run, or undefined: a string argument (a variable's value or a literal,
 * nested in input objects and JSON, keys included) that is not text Postgres can store, or a cost
 * (cost.ts, with the variables' values) over `maxCost`. These need the variables, which validation
 * does not see: the check runs where an operation is about to execute or subscribe, on HTTP and
 * SSE (operationChecksPlugin) and on the WebSocket (transport/ws-session.ts), so the transports
 * cannot disagree.
 */
export function refuseOperation(args: CheckedArgs, maxCost: number): GraphQLError | undefined {
  const shape = shapeOf(args.document, args.operationName);
  if (shape.unstorableLiteral) return refusal(`A string in the document ${UNSTORABLE_TEXT}`);
  const variables = args.variableValues;
  if (variables) {
    for (const name of shape.variables) {
      const at = unstorableTextIn(variables[name]);
      if (at !== undefined) return refusal(`Variable "$${name}"${at ? ` at ${at}` : ''} ${UNSTORABLE_TEXT}`);
    }
  }
  const cost = operationCost(args.schema, args.document, args.operationName, variables);
  if (cost > maxCost) return refusal(`Query cost limit of ${maxCost} exceeded, found ${cost}`);
  return undefined;
}

/** refuseOperation before anything executes, on Yoga's transports (HTTP and SSE). */
export function operationChecksPlugin(maxCost: number): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = refuseOperation(args, maxCost);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = refuseOperation(args, maxCost);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}

function shapeOf(document: DocumentNode, operationName: string | null | undefined): Shape {
  let byName = shapes.get(document);
  if (!byName) shapes.set(document, (byName = new Map()));
  const key = operationName ?? '';
  let shape = byName.get(key);
  if (!shape) {
    const operation = getOperationAST(document, operationName);
    let unstorableLiteral = false;
    visit(document, {
      [Kind.STRING]: (node) => {
        if (unstorableTextIn(node.value) !== undefined) unstorableLiteral = true;
      },
    });
    shape = { variables: operation?.variableDefinitions?.map((d) => d.variable.name.value) ?? [], unstorableLiteral };
    byName.set(key, shape);
  }
  return shape;
}
