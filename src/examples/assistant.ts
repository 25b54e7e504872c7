/**
 * An example AI assistant on the typed client's AI SDK adapter: it answers people in its
 * conversations by streaming a structured reply as a run (reasoning, a tool call with its result,
 * text), and obeys control events (PAUSE holds the answer, RESUME goes on, CANCEL and PREEMPT
 * abort it). With an OpenAI-compatible endpoint configured (OPENAI_BASE_URL, OPENAI_API_KEY,
 * ASSISTANT_MODEL) the model answers and may call the tool; otherwise a deterministic local
 * reply streams the same kinds of parts. `--slow` (or `--token-delay-ms N`) paces the answer so
 * that a person can PAUSE it from the web chat.
 *
 *   SWITCHBOARD_TOKEN=$(npm run -s token -- assistant --kind agent --name Assistant) npm run example:assistant -- --slow
 */
import { parseArgs } from 'node:util';
import { createOpenAI } from '@ai-sdk/openai';
import { isStepCount, type LanguageModel, type ModelMessage, streamText, tool, toUIMessageStream, type UIMessageChunk } from 'ai';
import WebSocket from 'ws';
import { z } from 'zod';
import { type RunOutcome, runUIMessageStream } from '../client/adapters/index.js';
import { createSwitchboardClient, type Message, type SwitchboardClient } from '../client/index.js';

export type AssistantOptions = {
  client: SwitchboardClient;
  /** The assistant's own user id (messages from it are not answered). */
  selfId: string;
  /** The model to answer with; without one, the deterministic local reply. */
  model?: LanguageModel;
  /** A pause before each text or reasoning delta, so a person can steer the answer. */
  tokenDelayMs?: number;
  log?: (line: string) => void;
  /** Called with each answer's outcome (why its run stopped). */
  onOutcome?: (outcome: RunOutcome, question: Message) => void;
};

/** What the assistant's model may call: counts the words of a text. */
const tools = {
  word_count: tool({
    description: 'Counts the words of a text',
    inputSchema: z.object({ text: z.string() }),
    execute: async ({ text }) => ({ words: countWords(text) }),
  }),
};

const countWords = (text: string) => text.split(/\s+/).filter(Boolean).length;

/** How many earlier messages of the conversation the model is given. */
const HISTORY_MESSAGES = 20;

/** Starts answering; returns a function that stops the assistant. */
export function startAssistant(options: AssistantOptions): () => void {
  const { client, selfId } = options;
  const log = options.log ?? (() => {});

  const handle = async (question: Message) => {
    if (question.sender.id === selfId || question.senderKind !== 'USER' || question.kind !== 'CHAT') return;
    const conversation = await client.conversation(question.conversationId);
    // While an expert has the conversation, the assistant only observes.
    if (!conversation || conversation.mode === 'EXPERT') return;
    log(`answering seq ${question.seq} in ${question.conversationId}`);
    const outcome = await runUIMessageStream(
      client,
      { conversationId: question.conversationId, traceId: question.traceId, agentId: selfId },
      async (abortSignal) =>
        paced(options.model ? await modelAnswer(options.model, question, abortSignal) : localAnswer(question.content), options.tokenDelayMs ?? 0, abortSignal),
    );
    log(`${outcome.runId} ${outcome.reason}${outcome.error ? `: ${outcome.error}` : ''}`);
    options.onOutcome?.(outcome, question);
  };

  /** The model's answer to the conversation so far, as a UI message stream. */
  const modelAnswer = async (model: LanguageModel, question: Message, abortSignal: AbortSignal) => {
    const history = await client.history(question.conversationId, { last: HISTORY_MESSAGES });
    const messages: ModelMessage[] = history.edges
      .map((e) => e.node)
      .filter((m) => m.content && !m.deletedAt && m.seq <= question.seq)
      .map((m) => (m.sender.id === selfId ? { role: 'assistant', content: m.content } : { role: 'user', content: m.content }));
    const result = streamText({
      model,
      system: 'You are the example assistant of a Switchboard conversation. Answer briefly.',
      messages,
      tools,
      stopWhen: isStepCount(3),
      abortSignal,
    });
    return toUIMessageStream({ stream: result.stream, tools, sendSources: true });
  };

  const stop = client.onMessage(null, (m) => void handle(m).catch((err) => log(`error: ${err.message}`)));
  return stop;
}

/**
 * The deterministic reply, as the chunks a model's UI message stream has: a thought, a call of
 * word_count on the question with its streamed input and result, then the answer word by word.
 */
export async function* localAnswer(question: string): AsyncGenerator<UIMessageChunk> {
  const asked = question.trim();
  const words = countWords(asked);
  yield { type: 'start' };
  yield { type: 'reasoning-start', id: 'r' };
  for (const w of `The person asked "${asked}". I will count its words, then answer.`.split(/(?<= )/)) yield { type: 'reasoning-delta', id: 'r', delta: w };
  yield { type: 'reasoning-end', id: 'r' };
  const input = JSON.stringify({ text: asked });
  yield { type: 'tool-input-start', toolCallId: 'word-count-1', toolName: 'word_count' };
  yield { type: 'tool-input-delta', toolCallId: 'word-count-1', inputTextDelta: input.slice(0, 8) };
  yield { type: 'tool-input-delta', toolCallId: 'word-count-1', inputTextDelta: input.slice(8) };
  yield { type: 'tool-input-available', toolCallId: 'word-count-1', toolName: 'word_count', input: { text: asked } };
  yield { type: 'tool-output-available', toolCallId: 'word-count-1', output: { words } };
  yield { type: 'text-start', id: 't' };
  const text = `You asked: "${asked}" (${words} ${words === 1 ? 'word' : 'words'}). Here is what I can tell you: this is the example assistant, streaming its answer word by word.`;
  for (const w of text.split(/(?<= )/)) yield { type: 'text-delta', id: 't', delta: w };
  yield { type: 'text-end', id: 't' };
  yield { type: 'finish' };
}

/** The chunks of `source`, with a pause before each text or reasoning delta (none when 0). */
async function* paced(source: AsyncIterable<UIMessageChunk> | ReadableStream<UIMessageChunk>, delayMs: number, signal: AbortSignal) {
  for await (const chunk of source as AsyncIterable<UIMessageChunk>) {
    if (delayMs && (chunk.type === 'text-delta' || chunk.type === 'reasoning-delta')) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, delayMs);
        signal.addEventListener('abort', done, { once: true });
      });
      if (signal.aborted) return;
    }
    yield chunk;
  }
}

/** `--slow` is 150 ms per token; `--token-delay-ms N` (or ASSISTANT_TOKEN_DELAY_MS) any other pace. */
export function assistantSettings(argv: string[], env: Record<string, string | undefined>) {
  const { values } = parseArgs({
    args: argv,
    options: { slow: { type: 'boolean', default: false }, 'token-delay-ms': { type: 'string' } },
    strict: true,
  });
  const given = values['token-delay-ms'] ?? env.ASSISTANT_TOKEN_DELAY_MS;
  const tokenDelayMs = given != null ? Number(given) : values.slow ? 150 : 30;
  if (!Number.isInteger(tokenDelayMs) || tokenDelayMs < 0) throw new Error(`--token-delay-ms must be a whole number of ms, not ${given}`);
  const { OPENAI_BASE_URL, OPENAI_API_KEY } = env;
  const modelId = env.ASSISTANT_MODEL ?? env.OPENAI_MODEL ?? 'gpt-4o-mini';
  const endpoint = OPENAI_BASE_URL || OPENAI_API_KEY ? { baseURL: OPENAI_BASE_URL, apiKey: OPENAI_API_KEY ?? '', modelId } : undefined;
  return { tokenDelayMs, endpoint };
}

if (process.argv[1]?.endsWith('assistant.ts')) {
  const url = process.env.SWITCHBOARD_URL ?? 'http://localhost:4000/graphql';
  const token = process.env.SWITCHBOARD_TOKEN;
  if (!token) {
    console.error('Set SWITCHBOARD_TOKEN to an agent token: npm run -s token -- assistant --kind agent');
    process.exit(2);
  }
  let settings: ReturnType<typeof assistantSettings>;
  try {
    settings = assistantSettings(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`${(err as Error).message}\nusage: npm run example:assistant -- [--slow | --token-delay-ms N]`);
    process.exit(2);
  }
  const { endpoint, tokenDelayMs } = settings;
  const client = createSwitchboardClient({ url, token, webSocketImpl: WebSocket });
  const me = await client.viewer();
  // The Chat Completions API: what OpenAI-compatible servers (vLLM, Ollama, LM Studio, …) speak.
  const model = endpoint ? createOpenAI({ baseURL: endpoint.baseURL, apiKey: endpoint.apiKey }).chat(endpoint.modelId) : undefined;
  startAssistant({ client, selfId: me.id, model, tokenDelayMs, log: (line) => console.log(line) });
  console.log(
    `assistant ${me.id} listening on ${url} (${endpoint ? `model ${endpoint.modelId} at ${endpoint.baseURL ?? 'OpenAI'}` : 'deterministic replies'}, ${tokenDelayMs} ms per token)`,
  );
}
