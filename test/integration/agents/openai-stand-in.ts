// A local stand-in for an OpenAI-compatible model server: Chat Completions and Responses, both
// streamed as server-sent events, with scripted answers. "weather" asks for a tool call (the
// answer after the tool's result cites a source), "slow" streams ticks until the client goes away,
// "fail" fails half way (Responses), anything else gets a short greeting. Every request is recorded, with whether the client aborted.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type StandInRequest = { path: string; body: Record<string, unknown>; aborted: boolean; finished: boolean };

export type StandIn = {
  /** The base URL to give an OpenAI client (…/v1). */
  baseURL: string;
  requests: StandInRequest[];
  close(): Promise<void>;
};

export const SLOW_TICK_MS = 20;
/** Enough ticks that a slow answer outlasts any test that stops it (30 s). */
const SLOW_TICKS = 1_500;

export async function startOpenAiStandIn(): Promise<StandIn> {
  const requests: StandInRequest[] = [];
  const server = createServer((req, res) => void handle(req, res));

  async function handle(req: IncomingMessage, res: ServerResponse) {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw || '{}') as Record<string, unknown>;
    const record: StandInRequest = { path: req.url ?? '', body, aborted: false, finished: false };
    requests.push(record);
    res.on('close', () => {
      if (!res.writableFinished) record.aborted = true;
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (data: unknown, event?: string) => res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
    if (req.url?.endsWith('/chat/completions')) await chatCompletion(body, send, record);
    else if (req.url?.endsWith('/responses')) await response(body, send, record);
    if (req.url?.endsWith('/chat/completions') && !record.aborted) res.write('data: [DONE]\n\n');
    if (!record.aborted) record.finished = true;
    res.end();
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Send = (data: unknown, event?: string) => void;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the last user turn asks, and whether a tool's result came back already. */
function intent(text: string, hasToolResult: boolean): 'tool' | 'after-tool' | 'slow' | 'fail' | 'hello' {
  if (hasToolResult) return 'after-tool';
  if (/fail/i.test(text)) return 'fail';
  if (/weather/i.test(text)) return 'tool';
  if (/slow/i.test(text)) return 'slow';
  return 'hello';
}

async function chatCompletion(body: Record<string, unknown>, send: Send, record: StandInRequest) {
  const messages = (body.messages ?? []) as { role: string; content: unknown }[];
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const text = typeof lastUser?.content === 'string' ? lastUser.content : JSON.stringify(lastUser?.content ?? '');
  const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model: String(body.model) };
  const delta = (d: Record<string, unknown>, finish: string | null = null) => send({ ...base, choices: [{ index: 0, delta: d, finish_reason: finish }] });
  const words = (s: string) => s.split(/(?<= )/);

  switch (
    intent(
      text,
      messages.some((m) => m.role === 'tool'),
    )
  ) {
    case 'tool':
      delta({ role: 'assistant', content: '<think>The user wants ' });
      delta({ content: 'the weather.</think>' });
      for (const w of words('Let me check. ')) delta({ content: w });
      delta({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] });
      delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] });
      delta({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] });
      delta({}, 'tool_calls');
      break;
    case 'after-tool':
      delta({
        role: 'assistant',
        content: 'It is 3 °C ',
        annotations: [{ type: 'url_citation', url_citation: { start_index: 0, end_index: 5, url: 'https://weather.example/oslo', title: 'Oslo' } }],
      });
      delta({ content: 'in Oslo.' });
      delta({}, 'stop');
      break;
    case 'slow':
      for (let i = 0; i < SLOW_TICKS && !record.aborted; i++) {
        delta({ content: `tick${i} ` });
        await sleep(SLOW_TICK_MS);
      }
      delta({}, 'stop');
      break;
    default:
      for (const w of words('Hello from the stand-in.')) delta({ content: w });
      delta({}, 'stop');
  }
  send({ ...base, choices: [], usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 } });
}

async function response(body: Record<string, unknown>, send: Send, record: StandInRequest) {
  const input = body.input;
  const items = (Array.isArray(input) ? input : [{ role: 'user', content: input }]) as { role?: string; type?: string; content?: unknown }[];
  const lastUser = [...items].reverse().find((i) => i.role === 'user');
  const text = typeof lastUser?.content === 'string' ? lastUser.content : JSON.stringify(lastUser?.content ?? '');
  let sequence = 0;
  const event = (type: string, fields: Record<string, unknown>) => send({ type, sequence_number: sequence++, ...fields }, type);
  const shell = { id: 'resp_1', object: 'response', created_at: 0, model: String(body.model), status: 'in_progress', output: [] };
  event('response.created', { response: shell });
  const textDelta = (delta: string) => event('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta, logprobs: [] });

  switch (
    intent(
      text,
      items.some((i) => i.type === 'function_call_output'),
    )
  ) {
    case 'tool':
      event('response.reasoning_summary_text.delta', { item_id: 'rs_1', output_index: 0, summary_index: 0, delta: 'The user wants the weather.' });
      event('response.output_item.added', {
        output_index: 1,
        item: { id: 'fc_1', type: 'function_call', call_id: 'call_r1', name: 'get_weather', arguments: '', status: 'in_progress' },
      });
      event('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 1, delta: '{"city":' });
      event('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 1, delta: '"Oslo"}' });
      event('response.function_call_arguments.done', { item_id: 'fc_1', output_index: 1, arguments: '{"city":"Oslo"}' });
      break;
    case 'after-tool':
      textDelta('It is 3 °C ');
      textDelta('in Oslo.');
      event('response.output_text.annotation.added', {
        item_id: 'msg_1',
        output_index: 0,
        content_index: 0,
        annotation_index: 0,
        annotation: { type: 'url_citation', url: 'https://weather.example/oslo', title: 'Oslo', start_index: 0, end_index: 5 },
      });
      break;
    case 'slow':
      for (let i = 0; i < SLOW_TICKS && !record.aborted; i++) {
        textDelta(`tick${i} `);
        await sleep(SLOW_TICK_MS);
      }
      break;
    case 'fail':
      textDelta('Half an answer');
      event('response.failed', { response: { ...shell, status: 'failed', error: { code: 'server_error', message: 'The model fell over' } } });
      return;
    default:
      textDelta('Hello from the stand-in.');
  }
  event('response.completed', { response: { ...shell, status: 'completed' } });
}
