/**
 * An example AI assistant built on the typed client: it answers people in its conversations by
 * streaming a reply as a run, and obeys control events (PAUSE holds the stream, RESUME goes on,
 * CANCEL and PREEMPT stop it). Answers are deterministic unless an OpenAI-compatible endpoint is
 * configured (OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL).
 *
 *   SWITCHBOARD_TOKEN=$(npm run -s token -- assistant --kind agent --name Assistant) npm run example:assistant
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { createSwitchboardClient, type Message, type SwitchboardClient, SwitchboardError } from '../client/index.js';

export type AssistantOptions = {
  client: SwitchboardClient;
  /** The assistant's own user id (messages from it are not answered). */
  selfId: string;
  /** Produces the answer as a sequence of chunks. */
  answer?: (question: string) => AsyncIterable<string>;
  /** Pause between chunks of the deterministic answer. */
  chunkDelayMs?: number;
  log?: (line: string) => void;
};

type RunControl = { paused: boolean; stopped: boolean /** control events seen */; events: number; wake?: () => void };

/** Starts answering; returns a function that stops the assistant. */
export function startAssistant(options: AssistantOptions): () => void {
  const { client, selfId } = options;
  const log = options.log ?? (() => {});
  const answer = options.answer ?? ((q: string) => deterministicAnswer(q, options.chunkDelayMs ?? 30));

  const handle = async (message: Message) => {
    if (message.sender.id === selfId || message.senderKind !== 'USER' || message.kind !== 'CHAT') return;
    const conversation = await client.conversation(message.conversationId);
    // While an expert has the conversation, the assistant only observes.
    if (!conversation || conversation.mode === 'EXPERT') return;
    await runAnswer(message, answer);
  };

  const runAnswer = async (question: Message, produce: (q: string) => AsyncIterable<string>) => {
    const runId = `run-${randomUUID()}`;
    const state: RunControl = { paused: false, stopped: false, events: 0 };
    const stopListening = client.onControl(question.conversationId, (event) => {
      // For this run by its id, or for all of this agent's runs (`target` = its id, no runId).
      if (event.runId ? event.runId !== runId : event.target !== selfId) return;
      state.events++;
      if (event.event === 'PAUSE') state.paused = true;
      if (event.event === 'RESUME') state.paused = false;
      if (event.event === 'CANCEL' || event.event === 'PREEMPT') state.stopped = true;
      state.wake?.();
    });
    try {
      const stream = await client.startMessage({
        conversationId: question.conversationId,
        runId,
        traceId: question.traceId ?? undefined,
        interruptible: true,
      });
      log(`answering seq ${question.seq} in ${question.conversationId} as ${runId}`);
      for await (const chunk of produce(question.content)) {
        for (;;) {
          while (state.paused && !state.stopped) await new Promise<void>((resolve) => (state.wake = resolve));
          if (state.stopped) return log(`${runId} stopped`);
          const before = state.events;
          try {
            await client.appendChunk(stream.id, chunk);
            break;
          } catch (err) {
            if (!(err instanceof SwitchboardError) || !/is PAUSED/.test(err.message)) throw err;
            // The server applied a PAUSE whose event may not have reached us yet. If a control
            // event for this run came in meanwhile, the loop acts on it; otherwise wait briefly
            // for one and, if none comes, hold the chunk until RESUME.
            if (state.events !== before) continue;
            await new Promise((r) => setTimeout(r, 50));
            if (state.events === before) state.paused = true;
          }
        }
      }
      if (!state.stopped) await client.completeMessage(stream.id);
    } catch (err) {
      // A run cancelled or preempted between our check and the server's refuses more output.
      if (!state.stopped) log(`${runId} failed: ${(err as Error).message}`);
    } finally {
      stopListening();
    }
  };

  const stop = client.onMessage(null, (m) => void handle(m).catch((err) => log(`error: ${err.message}`)));
  return stop;
}

async function* deterministicAnswer(question: string, delayMs: number): AsyncIterable<string> {
  const text = `You asked: "${question.trim()}". Here is what I can tell you: this is the example assistant, streaming its answer word by word.`;
  for (const word of text.split(/(?<= )/)) {
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    yield word;
  }
}

/** Streams from an OpenAI-compatible chat completions endpoint. */
export function openAiAnswer(baseUrl: string, apiKey: string, model: string) {
  return async function* (question: string): AsyncIterable<string> {
    const res = await fetch(`${baseUrl.replace(/\/$/, '')}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: question }] }),
    });
    if (!res.ok || !res.body) throw new Error(`completion failed: HTTP ${res.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(part, { stream: true });
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const data = line.replace(/^data: ?/, '').trim();
        if (!data || data === '[DONE]') continue;
        const delta = JSON.parse(data)?.choices?.[0]?.delta?.content;
        if (delta) yield delta as string;
      }
    }
  };
}

if (process.argv[1]?.endsWith('assistant.ts')) {
  const url = process.env.SWITCHBOARD_URL ?? 'http://localhost:4000/graphql';
  const token = process.env.SWITCHBOARD_TOKEN;
  if (!token) {
    console.error('Set SWITCHBOARD_TOKEN to an agent token: npm run -s token -- assistant --kind agent');
    process.exit(2);
  }
  const client = createSwitchboardClient({ url, token, webSocketImpl: WebSocket });
  const me = await client.viewer();
  const { OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL } = process.env;
  startAssistant({
    client,
    selfId: me.id,
    answer: OPENAI_BASE_URL && OPENAI_API_KEY ? openAiAnswer(OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL ?? 'gpt-4o-mini') : undefined,
    log: (line) => console.log(line),
  });
  console.log(`assistant ${me.id} listening on ${url}`);
}
