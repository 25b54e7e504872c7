import { GraphQLError, type ExecutionArgs } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { operationCost } from './cost.js';

export type CheckedArgs = Pick<ExecutionArgs, 'schema' | 'document' | 'operationName' | 'variableValues'>;

export const refusal = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });

/**
 * Why an operation must not run, or undefined: a cost (cost.ts, with the variables' values) over
 * `maxCost`. This needs the variables, which validation does not see: the check runs where an
 * operation is about to execute or subscribe, on HTTP and SSE (operationChecksPlugin) and on the
 * WebSocket (app.ts), so the transports cannot disagree.
 */
export function refuseOperation(args: CheckedArgs, maxCost: number): GraphQLError | undefined {
  const cost = operationCost(args.schema, args.document, args.operationName, args.variableValues);
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
