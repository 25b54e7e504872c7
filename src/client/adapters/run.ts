/**
 * An agent's run as the adapters drive it: one streamed answer whose parts are appended in order,
 * steered by the conversation's control events. PAUSE holds the output (and the adapters stop
 * reading the model) until RESUME; CANCEL and PREEMPT abort `signal`, which the model call takes,
 * and end the run's output. Appends are queued and text deltas that pile up while one is on its
 * way go out together, so a fast model never waits for a round trip per token.
 */
import { ConversationRunsDocument, type MessagePartInput, type MessagePriority, type RunState } from '../generated/graphql.js';
import { type Message, type SwitchboardClient, SwitchboardError } from '../index.js';

/** Why a run stopped: its answer completed, a person cancelled or preempted it, or it failed. */
export type StopReason = 'completed' | 'cancelled' | 'preempted' | 'failed';

export type RunOutcome = {
  reason: StopReason;
  runId: string;
  /** The streamed answer's id. */
  messageId: string;
  /** The completed answer (reason `completed`, when anything was streamed). */
  message?: Message;
  /** What failed (reason `failed`). */
  error?: string;
};

export type RunOptions = {
  conversationId: string;
  /** Default: a new random id. */
  runId?: string;
  /** Carried on the answer; pass the question's traceId to tie them together. */
  traceId?: string | null;
  priority?: MessagePriority;
  /** The agent's own user id (control events with it as `target` steer all its runs); default: viewer(). */
  agentId?: string;
};

type Part = MessagePartInput;

/**
 * How often a running run's state is read, in case a control event went by unseen (its
 * subscription not yet live, or the socket reconnecting): a paused run then resumes, and an ended
 * one stops even when its model has stalled and no append would be refused.
 */
const STATE_POLL_MS = 1_000;

/** Starts a run: its answer's stream is opened at once, so the run can be steered before any output. */
export async function startRun(client: SwitchboardClient, options: RunOptions): Promise<AgentRun> {
  const agentId = options.agentId ?? (await client.viewer()).id;
  const runId = options.runId ?? randomId();
  const run = new AgentRun(client, options.conversationId, runId, agentId);
  try {
    const stream = await client.startMessage({
      conversationId: options.conversationId,
      runId,
      traceId: options.traceId ?? undefined,
      priority: options.priority,
      interruptible: true,
    });
    run.messageId = stream.id;
    run.watchState();
  } catch (err) {
    run.dispose();
    throw err;
  }
  return run;
}

export class AgentRun {
  /** Aborted on CANCEL or PREEMPT (and when the run fails): give it to the model call. */
  readonly signal: AbortSignal;
  messageId = '';
  private readonly abort = new AbortController();
  private readonly queue: Part[] = [];
  private draining?: Promise<void>;
  private appended = 0;
  private paused = false;
  private resumed?: { promise: Promise<void>; resolve: () => void };
  private stopReason?: StopReason;
  private failure?: string;
  private readonly stopListening: () => void;
  private pollTimer?: ReturnType<typeof setInterval>;
  /** Completing: the run leaves activeRuns by our own hand, which checkState must not take for a CANCEL. */
  private completing = false;

  constructor(
    private readonly client: SwitchboardClient,
    readonly conversationId: string,
    readonly runId: string,
    readonly agentId: string,
  ) {
    this.signal = this.abort.signal;
    this.stopListening = client.onControl(conversationId, (event) => {
      // For this run by its id, or for all of this agent's runs (`target` = its id, no runId).
      if (event.runId ? event.runId !== runId : event.target !== agentId) return;
      if (event.event === 'PAUSE') this.pause();
      if (event.event === 'RESUME') this.resume();
      if (event.event === 'CANCEL') this.stop('cancelled');
      if (event.event === 'PREEMPT') this.stop('preempted');
    });
  }

  /** Why the run stopped, once it has. */
  get stopped(): StopReason | undefined {
    return this.stopReason;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Queues a part (see appendMessagePart); consecutive deltas of one part are sent together. */
  write(part: Part): void {
    if (this.stopReason) return;
    const last = this.queue.at(-1);
    if (last && canJoin(last, part)) {
      const text = (last.text ?? '') + (part.text ?? '');
      Object.assign(last, part, part.text != null || last.text != null ? { text } : {});
    } else {
      this.queue.push({ ...part });
    }
    this.kick();
  }

  private kick() {
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      // A part queued while the loop was ending.
      if (this.queue.length && !this.stopReason) this.kick();
    });
  }

  /** Resolves once every queued part is appended (or the run stopped). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Resolves when the run is not paused (at once if it is not), or has stopped. */
  async whileUnpaused(): Promise<void> {
    while (this.paused && !this.stopReason) await this.resumed?.promise;
  }

  /** Appends what is queued, completes the answer and the run; returns why it stopped. */
  async complete(): Promise<RunOutcome> {
    await this.flush();
    if (this.stopReason) return this.outcome();
    this.completing = true;
    try {
      const message = this.appended ? await this.client.completeMessage(this.messageId) : undefined;
      // Completing the run's last stream completed the run; this also ends a run with nothing said.
      await this.client.completeRun(this.conversationId, this.runId);
      this.stop('completed');
      return { ...this.outcome(), message };
    } catch (err) {
      const reason = stopReasonOf(err);
      if (!reason) return this.fail(messageOf(err));
      this.stop(reason);
      return this.outcome();
    }
  }

  /** Ends the run FAILED (its answer is discarded) and aborts the model call. */
  async fail(reason: string): Promise<RunOutcome> {
    if (this.stopReason && this.stopReason !== 'failed') return this.outcome();
    this.failure ??= reason;
    this.stop('failed');
    await this.client.failRun(this.conversationId, this.runId, reason.slice(0, 500)).catch(() => {});
    return this.outcome();
  }

  /** Stops listening to control events (the outcome functions do it too). */
  dispose(): void {
    this.stopListening();
    clearInterval(this.pollTimer);
    this.resumed?.resolve();
  }

  private outcome(): RunOutcome {
    this.dispose();
    return { reason: this.stopReason ?? 'failed', runId: this.runId, messageId: this.messageId, error: this.failure };
  }

  private pause() {
    if (this.paused || this.stopReason) return;
    this.paused = true;
    let resolve = () => {};
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    this.resumed = { promise, resolve };
  }

  private resume() {
    if (!this.paused) return;
    this.paused = false;
    this.resumed?.resolve();
  }

  private stop(reason: StopReason) {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.queue.length = 0;
    if (reason !== 'completed') this.abort.abort(new RunStoppedError(reason));
    this.resume();
    clearInterval(this.pollTimer);
    this.resumed?.resolve();
  }

  /** Reads the run's state from now on (once its stream has registered it: see STATE_POLL_MS). */
  watchState(): void {
    if (!this.stopReason) this.pollTimer ??= setInterval(() => void this.checkState(), STATE_POLL_MS);
  }

  /** Reads the run's state: a paused run resumed or ended while its events went by unseen. */
  private async checkState() {
    if (this.stopReason || this.completing) return;
    const data = await this.client.request(ConversationRunsDocument, { id: this.conversationId }).catch(() => undefined);
    if (!data || this.completing) return;
    const run = data.conversation?.activeRuns.find((r) => r.runId === this.runId);
    if (!run) this.stop('cancelled');
    else if (run.state === 'ACTIVE') this.resume();
    else if (run.state === 'PAUSED') this.pause();
  }

  private async drain() {
    while (this.queue.length && !this.stopReason) {
      await this.whileUnpaused();
      const part = this.queue.shift();
      if (!part || this.stopReason) return;
      try {
        await this.client.appendPart(this.messageId, part);
        this.appended++;
      } catch (err) {
        if (runStateOf(err) === 'PAUSED') {
          // The server applied a PAUSE whose event has not reached us: hold the part until RESUME.
          this.queue.unshift(part);
          this.pause();
          continue;
        }
        const reason = stopReasonOf(err);
        if (reason) this.stop(reason);
        else await this.fail(messageOf(err));
        return;
      }
    }
  }
}

/** The error a stopped run's signal carries. */
export class RunStoppedError extends Error {
  constructor(readonly reason: StopReason) {
    super(`The run was ${reason}`);
    this.name = 'AbortError';
  }
}

/** Two queued appends that the server would apply as one: deltas of the same part. */
function canJoin(a: Part, b: Part): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'TEXT' || a.type === 'REASONING') return true;
  if (a.type !== 'TOOL_CALL' || a.toolCallId !== b.toolCallId) return false;
  return a.input == null && (b.toolName == null || a.toolName == null || a.toolName === b.toolName);
}

const runStateOf = (err: unknown): RunState | undefined => (err instanceof SwitchboardError ? (err.extensions.runState as RunState | undefined) : undefined);

/** The reason a refused append or end means the run was stopped from outside, if it does. */
function stopReasonOf(err: unknown): StopReason | undefined {
  const state = runStateOf(err) ?? (err instanceof Error ? /stream has ended \((\w+)\)/.exec(err.message)?.[1] : undefined);
  if (state === 'CANCELLED') return 'cancelled';
  if (state === 'PREEMPTED') return 'preempted';
  if (state === 'COMPLETED') return 'completed';
  if (state === 'FAILED') return 'failed';
  return undefined;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

const randomId = () =>
  `run-${typeof globalThis.crypto?.randomUUID === 'function' ? globalThis.crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`}`;

/**
 * Reads a ReadableStream or an async iterable, releasing it when the loop stops early; when
 * `signal` aborts, a ReadableStream is cancelled at once (a pending read ends) and an iterable is
 * asked to return.
 */
export async function* chunksOf<T>(source: AsyncIterable<T> | ReadableStream<T>, signal?: AbortSignal): AsyncGenerator<T> {
  if (typeof (source as ReadableStream<T>).getReader === 'function') {
    const reader = (source as ReadableStream<T>).getReader();
    const cancel = () => void reader.cancel().catch(() => {});
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      for (;;) {
        if (signal?.aborted) return;
        const { value, done } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      signal?.removeEventListener('abort', cancel);
      await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  }
  const iterator = (source as AsyncIterable<T>)[Symbol.asyncIterator]();
  const stop = () => void Promise.resolve(iterator.return?.()).catch(() => {});
  signal?.addEventListener('abort', stop, { once: true });
  try {
    for (;;) {
      if (signal?.aborted) return;
      const { value, done } = await iterator.next();
      if (done) return;
      yield value;
    }
  } finally {
    signal?.removeEventListener('abort', stop);
    if (!signal?.aborted) await iterator.return?.();
  }
}

/**
 * Pipes model events into a run: `toParts` turns each into parts (none for events that add
 * nothing); it may return `{ error }` for a model-reported failure. Reading waits while the run
 * is paused and stops when it is stopped. Returns the error the model reported or threw, if any.
 */
export async function pipeEvents<E>(
  run: AgentRun,
  source: AsyncIterable<E> | ReadableStream<E>,
  toParts: (event: E) => Part[] | { error: string },
): Promise<string | undefined> {
  const events = chunksOf(source, run.signal);
  // A model call that was not given the signal goes on: stop waiting for it when the run stops.
  const stopped = new Promise<'stopped'>((resolve) => {
    if (run.signal.aborted) resolve('stopped');
    run.signal.addEventListener('abort', () => resolve('stopped'), { once: true });
  });
  try {
    for (;;) {
      const next = events.next();
      next.catch(() => {});
      const result = await Promise.race([next, stopped]);
      if (result === 'stopped') {
        void events.return(undefined).catch(() => {});
        return undefined;
      }
      if (result.done) return undefined;
      await run.whileUnpaused();
      if (run.stopped) return undefined;
      const parts = toParts(result.value);
      if (!Array.isArray(parts)) return parts.error;
      for (const part of parts) run.write(part);
    }
  } catch (err) {
    // The model call aborted because the run was stopped: that is the run's outcome, not an error.
    if (run.stopped) return undefined;
    return messageOf(err);
  }
}
