/**
 * The Vercel AI SDK on Switchboard, both ways. An agent pipes a UI message stream (what
 * `toUIMessageStream` makes of a `streamText` result) into a run; a front end's `useChat` talks to
 * a conversation through SwitchboardChatTransport, which sends with `sendMessage` and turns the
 * agent's streamed parts back into UI message chunks, resuming a running answer after a reload.
 *
 *   const outcome = await runUIMessageStream(sb, { conversationId, traceId }, (abortSignal) =>
 *     toUIMessageStream({ stream: streamText({ model, prompt, tools, abortSignal }).stream }));
 */
import type { ChatRequestOptions, ChatTransport, UIMessage, UIMessageChunk } from 'ai';
import { ConversationRunsDocument, type MessagePartInput } from '../generated/graphql.js';
import { applyChunk, type Message, type MessageChunk, type MessagePart, type SwitchboardClient } from '../index.js';
import { type AgentRun, pipeEvents, type RunOptions, type RunOutcome, startRun } from './run.js';

type UIStream = AsyncIterable<UIMessageChunk> | ReadableStream<UIMessageChunk>;

/**
 * Starts a run and pipes the UI message stream that `stream(abortSignal)` returns into it: text,
 * reasoning, tool calls with their streamed input, tool results, sources and data become parts.
 * CANCEL and PREEMPT abort `abortSignal` (pass it to streamText); PAUSE stops reading until RESUME.
 * Completes the run when the stream ends, fails it when the model fails; returns why it stopped.
 */
export async function runUIMessageStream(
  client: SwitchboardClient,
  options: RunOptions,
  stream: (abortSignal: AbortSignal) => UIStream | Promise<UIStream>,
): Promise<RunOutcome> {
  const run = await startRun(client, options);
  let error: string | undefined;
  try {
    error = await pipeUIMessageStream(run, await stream(run.signal));
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  return error && !run.stopped ? run.fail(error) : run.complete();
}

/** Pipes a UI message stream into a started run (for several model calls in one run); returns the model's error, if any. */
export function pipeUIMessageStream(run: AgentRun, stream: UIStream): Promise<string | undefined> {
  const toolNames = new Map<string, string>();
  return pipeEvents(run, stream, (chunk) => partsOfUIChunk(chunk, toolNames));
}

/** The parts a UI message chunk adds to an answer (`toolNames` remembers each call's tool). */
export function partsOfUIChunk(chunk: UIMessageChunk, toolNames: Map<string, string>): MessagePartInput[] | { error: string } {
  switch (chunk.type) {
    case 'text-delta':
      return chunk.delta ? [{ type: 'TEXT', text: chunk.delta }] : [];
    case 'reasoning-delta':
      return chunk.delta ? [{ type: 'REASONING', text: chunk.delta }] : [];
    case 'tool-input-start':
      toolNames.set(chunk.toolCallId, chunk.toolName);
      return [{ type: 'TOOL_CALL', toolCallId: chunk.toolCallId, toolName: chunk.toolName }];
    case 'tool-input-delta':
      return [{ type: 'TOOL_CALL', toolCallId: chunk.toolCallId, text: chunk.inputTextDelta }];
    case 'tool-input-available':
    case 'tool-input-error': {
      toolNames.set(chunk.toolCallId, chunk.toolName);
      const call: MessagePartInput = { type: 'TOOL_CALL', toolCallId: chunk.toolCallId, toolName: chunk.toolName, input: chunk.input ?? {} };
      if (chunk.type === 'tool-input-available') return [call];
      return [call, { type: 'TOOL_RESULT', toolCallId: chunk.toolCallId, toolName: chunk.toolName, output: { error: chunk.errorText } }];
    }
    case 'tool-output-available':
      // Preliminary outputs are superseded by the final one; only that is kept.
      if (chunk.preliminary) return [];
      return [{ type: 'TOOL_RESULT', toolCallId: chunk.toolCallId, toolName: toolNames.get(chunk.toolCallId), output: chunk.output ?? null }];
    case 'tool-output-error':
      return [{ type: 'TOOL_RESULT', toolCallId: chunk.toolCallId, toolName: toolNames.get(chunk.toolCallId), output: { error: chunk.errorText } }];
    case 'tool-output-denied':
      return [{ type: 'TOOL_RESULT', toolCallId: chunk.toolCallId, toolName: toolNames.get(chunk.toolCallId), output: { denied: true } }];
    case 'source-url':
      return [{ type: 'SOURCE', text: chunk.url, data: { sourceId: chunk.sourceId, title: chunk.title } }];
    case 'source-document':
      return [{ type: 'SOURCE', data: { sourceId: chunk.sourceId, mediaType: chunk.mediaType, title: chunk.title, filename: chunk.filename } }];
    case 'error':
      return { error: chunk.errorText };
    default:
      // Data parts (`data-<name>`) that the UI is to keep; transient ones are not stored.
      if (chunk.type.startsWith('data-') && 'data' in chunk && !chunk.transient) {
        return [{ type: 'DATA', data: { type: chunk.type, id: chunk.id, data: chunk.data } }];
      }
      return [];
  }
}

export type ChatTransportOptions = {
  /** The conversation of a chat; default: the chat id is the conversation id. */
  conversationId?: (chatId: string) => string;
  /** Whether stopping the chat (useChat's `stop`) sends CANCEL for the answer's run. Default true. */
  cancelOnStop?: boolean;
};

/**
 * A ChatTransport for the AI SDK's `useChat` (`new Chat({ transport })`): sending posts the last
 * user message to the conversation; the answer is the next agent stream of the conversation, as
 * UI message chunks. `reconnectToStream` (useChat's `resume`) replays a running answer from its
 * start, which `resumeStreamIsReplay` tells the chat, so a reload loses nothing.
 */
export class SwitchboardChatTransport<UI_MESSAGE extends UIMessage = UIMessage> implements ChatTransport<UI_MESSAGE> {
  readonly resumeStreamIsReplay = true;

  constructor(
    private readonly client: SwitchboardClient,
    private readonly options: ChatTransportOptions = {},
  ) {}

  async sendMessages(
    request: {
      trigger: 'submit-message' | 'regenerate-message';
      chatId: string;
      messageId: string | undefined;
      messages: UI_MESSAGE[];
      abortSignal: AbortSignal | undefined;
    } & ChatRequestOptions,
  ): Promise<ReadableStream<UIMessageChunk>> {
    const conversationId = this.conversationOf(request.chatId);
    const question = [...request.messages].reverse().find((m) => m.role === 'user');
    if (!question) throw new Error('No user message to send');
    const content = question.parts.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join('');
    // Streams already running belong to earlier questions: the answer is a run not among them.
    const before = new Set(await this.activeRunIds(conversationId));
    const answer = this.follow(conversationId, (runId) => !before.has(runId ?? ''), request.abortSignal);
    try {
      const sent = await this.client.sendMessage({
        conversationId,
        content,
        // A regenerated question is a new message; a submitted one is sent once even on retries.
        clientMessageId: request.trigger === 'submit-message' ? question.id : undefined,
      });
      answer.afterSeq(sent.seq);
    } catch (err) {
      answer.cancel();
      throw err;
    }
    return answer.stream;
  }

  async reconnectToStream(request: { chatId: string; abortSignal?: AbortSignal } & ChatRequestOptions): Promise<ReadableStream<UIMessageChunk> | null> {
    const conversationId = this.conversationOf(request.chatId);
    // The last seq first: a run that completes after it has its answer's message after it.
    const conversation = await this.client.conversation(conversationId);
    const running = new Set(await this.activeRunIds(conversationId));
    if (!running.size) return null;
    const answer = this.follow(conversationId, (runId) => running.has(runId ?? ''), request.abortSignal);
    if (conversation) answer.afterSeq(conversation.lastSeq);
    return answer.stream;
  }

  private conversationOf(chatId: string) {
    return this.options.conversationId?.(chatId) ?? chatId;
  }

  private async activeRunIds(conversationId: string): Promise<string[]> {
    const data = await this.client.request(ConversationRunsDocument, { id: conversationId });
    return data.conversation?.activeRuns.map((r) => r.runId) ?? [];
  }

  /**
   * The first stream of the conversation whose run `accept`s, as UI message chunks, until it
   * ends. `afterSeq` (once the question is stored) also follows the conversation's messages from
   * that seq on, which messageAdded delivers with no gap: an answer that completed before the
   * stream subscription was in place still arrives, whole, as its message.
   */
  private follow(conversationId: string, accept: (runId: string | null | undefined) => boolean, abortSignal: AbortSignal | undefined) {
    let messageId: string | undefined;
    let runId: string | null | undefined;
    let parts: MessagePart[] = [];
    let open: string | undefined;
    const offs: (() => void)[] = [];
    let done = false;
    const seenCalls = new Set<string>();
    let controller!: ReadableStreamDefaultController<UIMessageChunk>;

    const release = () => {
      done = true;
      for (const off of offs.splice(0)) off();
      abortSignal?.removeEventListener('abort', onAbort);
    };
    const end = (last?: UIMessageChunk) => {
      if (done) return;
      release();
      if (open) controller.enqueue(endOf(open));
      if (last) controller.enqueue(last);
      controller.close();
    };
    const onAbort = () => {
      if (runId && !done && this.options.cancelOnStop !== false) {
        void this.client.sendControl(conversationId, { event: 'CANCEL', runId, reason: 'stopped by the user' }).catch(() => {});
      }
      end({ type: 'abort', reason: 'stopped' });
    };
    /** Whether a stream or message is the answer (the first accepted one is). */
    const isAnswer = (id: string, run: string | null | undefined) => {
      if (done) return false;
      if (!messageId) {
        if (!accept(run)) return false;
        messageId = id;
        runId = run;
        controller.enqueue({ type: 'start', messageId });
      }
      return id === messageId;
    };
    /** Emits what takes part `index` from what was shown to `next`. */
    const show = (index: number, next: MessagePart) => {
      for (const chunk of chunksOfPart(parts[index], next, `${messageId}:${index}`, seenCalls)) {
        const block = blockOf(chunk);
        if (block && block !== open) {
          if (open) controller.enqueue(endOf(open));
          open = block;
        } else if (!block && open && chunk.type !== 'text-delta' && chunk.type !== 'reasoning-delta') {
          controller.enqueue(endOf(open));
          open = undefined;
        }
        controller.enqueue(chunk);
      }
      parts = [...parts];
      parts[index] = next;
    };
    const onEvent = (event: MessageChunk) => {
      if (!isAnswer(event.messageId, event.runId)) return;
      if (event.part && event.partIndex != null) show(event.partIndex, applyChunk(parts, event)[event.partIndex]!);
      if (event.state === 'COMPLETED') end({ type: 'finish' });
      else if (event.state !== 'STREAMING') end({ type: 'abort', reason: event.state.toLowerCase() });
    };
    const onMessage = (m: Message) => {
      if (m.senderKind !== 'AGENT' || !isAnswer(m.id, m.runId)) return;
      for (const [index, part] of m.parts.entries()) show(index, part);
      // A preempted stream is kept as a message with what it had.
      end(m.preemptedBy ? { type: 'abort', reason: 'preempted' } : { type: 'finish' });
    };

    const stream = new ReadableStream<UIMessageChunk>({
      start: (c) => {
        controller = c;
        if (abortSignal?.aborted) return end({ type: 'abort', reason: 'stopped' });
        abortSignal?.addEventListener('abort', onAbort, { once: true });
        offs.push(this.client.onStream(conversationId, onEvent));
      },
      cancel: release,
    });
    return {
      stream,
      afterSeq: (seq: number) => {
        if (!done) offs.push(this.client.onMessage(conversationId, onMessage, { afterSeq: seq }));
      },
      cancel: () => {
        release();
        try {
          controller.close();
        } catch {
          // The reader cancelled it already.
        }
      },
    };
  }
}

/** Text and reasoning blocks are opened and closed; this is the open block's key (`t:` or `r:` + id). */
function blockOf(chunk: UIMessageChunk): string | undefined {
  if (chunk.type === 'text-start') return `t:${chunk.id}`;
  if (chunk.type === 'reasoning-start') return `r:${chunk.id}`;
  return undefined;
}
const endOf = (block: string): UIMessageChunk =>
  block.startsWith('t:') ? { type: 'text-end', id: block.slice(2) } : { type: 'reasoning-end', id: block.slice(2) };

/** Characters of `text` after the first `from` (parts count text in code points). */
const textAfter = (text: string | null | undefined, from: string | null | undefined) => {
  const all = Array.from(text ?? '');
  const before = Array.from(from ?? '');
  return all.slice(0, before.length).join('') === (from ?? '') ? all.slice(before.length).join('') : '';
};

/** The UI message chunks that take a part from `prev` (absent: new) to `next`. */
function chunksOfPart(prev: MessagePart | undefined, next: MessagePart, id: string, seenCalls: Set<string>): UIMessageChunk[] {
  const out: UIMessageChunk[] = [];
  const delta = textAfter(next.text, prev?.text);
  switch (next.type) {
    case 'TEXT':
      if (!prev) out.push({ type: 'text-start', id });
      if (delta) out.push({ type: 'text-delta', id, delta });
      break;
    case 'REASONING':
      if (!prev) out.push({ type: 'reasoning-start', id });
      if (delta) out.push({ type: 'reasoning-delta', id, delta });
      break;
    case 'TOOL_CALL': {
      const toolCallId = next.toolCallId ?? id;
      const toolName = next.toolName ?? 'tool';
      if (!prev) {
        seenCalls.add(toolCallId);
        out.push({ type: 'tool-input-start', toolCallId, toolName });
      }
      if (delta) out.push({ type: 'tool-input-delta', toolCallId, inputTextDelta: delta });
      if (next.input != null && prev?.input == null) out.push({ type: 'tool-input-available', toolCallId, toolName, input: next.input });
      break;
    }
    case 'TOOL_RESULT': {
      if (prev) break;
      const toolCallId = next.toolCallId ?? id;
      // A result needs its call in the UI message; an agent may have sent the result alone.
      if (!seenCalls.has(toolCallId)) out.push({ type: 'tool-input-available', toolCallId, toolName: next.toolName ?? 'tool', input: {} });
      seenCalls.add(toolCallId);
      out.push({ type: 'tool-output-available', toolCallId, output: next.output });
      break;
    }
    case 'SOURCE': {
      if (prev) break;
      const data = (next.data ?? {}) as { sourceId?: string; title?: string; mediaType?: string; filename?: string };
      const sourceId = data.sourceId ?? id;
      if (next.text) out.push({ type: 'source-url', sourceId, url: next.text, title: data.title });
      else out.push({ type: 'source-document', sourceId, mediaType: data.mediaType ?? 'text/plain', title: data.title ?? '', filename: data.filename });
      break;
    }
    case 'DATA': {
      if (prev) break;
      const data = next.data as { type?: unknown; id?: string; data?: unknown } | null;
      // Data parts from the AI SDK keep their name; others arrive as `data-switchboard`.
      if (data && typeof data.type === 'string' && data.type.startsWith('data-') && 'data' in data) {
        out.push({ type: data.type as `data-${string}`, id: data.id, data: data.data });
      } else out.push({ type: 'data-switchboard', id, data: next.data });
      break;
    }
  }
  return out;
}
