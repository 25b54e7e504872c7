import { Samples, sleep } from './stats.js';

/** What a closed-loop run reports; the same for the service (http-load) and its ceiling (pg-load). */
export type ClosedResult = {
  /** Successful operations inside the measuring window, per class. */
  ok: Record<string, number>;
  latencies: Record<string, Float64Array>;
  /** Successful operations over warmup + window (what the database must hold for sends). */
  okTotal: number;
  errors: number;
  errorSamples: string[];
  windowMs: number;
};

/**
 * Closed loop: each loop runs one operation at a time on a random conversation of its own, until
 * the window ends. Latencies are kept for operations that start and end inside the window (after
 * `warmupMs`); a failed operation is counted, sampled and followed by a short pause.
 * `operation` resolves when it succeeded and throws (with the reason) when it did not.
 */
export async function closedLoops<L extends { cls: string; conversations: string[] }>(
  loops: L[],
  { warmupMs, durationMs }: { warmupMs: number; durationMs: number },
  operation: (loop: L, conversationId: string, loopIndex: number, n: number) => Promise<void>,
): Promise<ClosedResult> {
  const samples = new Map<string, Samples>();
  const ok: Record<string, number> = {};
  for (const l of loops) {
    samples.set(l.cls, samples.get(l.cls) ?? new Samples());
    ok[l.cls] = 0;
  }
  let okTotal = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  const measureFrom = performance.now() + warmupMs;
  const until = measureFrom + durationMs;
  let counter = 0;

  await Promise.all(
    loops.map(async (loop, li) => {
      const s = samples.get(loop.cls)!;
      for (;;) {
        const start = performance.now();
        if (start >= until) return;
        const c = loop.conversations[(Math.random() * loop.conversations.length) | 0]!;
        try {
          await operation(loop, c, li, counter++);
          const end = performance.now();
          okTotal++;
          if (start >= measureFrom && end <= until) {
            s.push(end - start);
            ok[loop.cls]!++;
          }
        } catch (err) {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(err instanceof Error ? err.message : String(err));
          await sleep(5);
        }
      }
    }),
  );
  const latencies: Record<string, Float64Array> = {};
  for (const [k, s] of samples) latencies[k] = s.take();
  return { ok, latencies, okTotal, errors, errorSamples, windowMs: durationMs };
}
