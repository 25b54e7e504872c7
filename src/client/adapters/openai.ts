/**
 * The OpenAI Responses API on Switchboard: an agent pipes a Responses stream (`responses.create`
 * with `stream: true`) into a run. Text and reasoning deltas, function calls with their streamed
 * arguments and URL citations become parts; the function's result is the agent's to append
 * (`run.write({ type: 'TOOL_RESULT', … })`) before it pipes the next response of the run.
 *
 *   const outcome = await runResponsesStream(sb, { conversationId }, (signal) =>
 *     openai.responses.create({ model, input, stream: true }, { signal }));
 */
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import type { MessagePartInput } from '../generated/graphql.js';
import type { SwitchboardClient } from '../index.js';
import { type AgentRun, pipeEvents, type RunOptions, type RunOutcome, startRun } from './run.js';

type ResponsesStream = AsyncIterable<ResponseStreamEvent> | ReadableStream<ResponseStreamEvent>;

/**
 * Starts a run and pipes the Responses stream that `stream(signal)` returns into it (CANCEL and
 * PREEMPT abort `signal`: pass it to the request); completes or fails the run as the response
 * does and returns why it stopped. For a run of several responses use startRun and pipeResponsesStream.
 */
export async function runResponsesStream(
  client: SwitchboardClient,
  options: RunOptions,
  stream: (signal: AbortSignal) => ResponsesStream | Promise<ResponsesStream>,
): Promise<RunOutcome> {
  const run = await startRun(client, options);
  let error: string | undefined;
  try {
    error = await pipeResponsesStream(run, await stream(run.signal));
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  return error && !run.stopped ? run.fail(error) : run.complete();
}

/** Pipes one Responses stream into a started run; returns the response's error, if any. */
export function pipeResponsesStream(run: AgentRun, stream: ResponsesStream): Promise<string | undefined> {
  const calls = new Map<string, { callId: string; name: string }>();
  return pipeEvents(run, stream, (event) => partsOfResponseEvent(event, calls));
}

/** The parts a Responses stream event adds (`calls` maps output item ids to their function calls). */
export function partsOfResponseEvent(event: ResponseStreamEvent, calls: Map<string, { callId: string; name: string }>): MessagePartInput[] | { error: string } {
  switch (event.type) {
    case 'response.output_text.delta':
      return event.delta ? [{ type: 'TEXT', text: event.delta }] : [];
    case 'response.reasoning_summary_text.delta':
    case 'response.reasoning_text.delta':
      return event.delta ? [{ type: 'REASONING', text: event.delta }] : [];
    case 'response.output_item.added': {
      const item = event.item;
      if (item.type !== 'function_call') return [];
      calls.set(item.id ?? item.call_id, { callId: item.call_id, name: item.name });
      return [{ type: 'TOOL_CALL', toolCallId: item.call_id, toolName: item.name, text: item.arguments || undefined }];
    }
    case 'response.function_call_arguments.delta': {
      const call = calls.get(event.item_id);
      return call && event.delta ? [{ type: 'TOOL_CALL', toolCallId: call.callId, text: event.delta }] : [];
    }
    case 'response.function_call_arguments.done': {
      const call = calls.get(event.item_id);
      if (!call) return [];
      return [{ type: 'TOOL_CALL', toolCallId: call.callId, input: parseArguments(event.arguments) }];
    }
    case 'response.output_text.annotation.added': {
      const annotation = event.annotation as { type?: string; url?: string; title?: string } | null;
      if (annotation?.type !== 'url_citation' || !annotation.url) return [];
      return [{ type: 'SOURCE', text: annotation.url, data: { title: annotation.title } }];
    }
    case 'response.failed':
      return { error: event.response.error?.message ?? 'The response failed' };
    case 'error':
      return { error: event.message };
    default:
      return [];
  }
}

/** A function call's arguments as JSON, or as the string the model wrote when it is not JSON. */
function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { arguments: text };
  }
}
