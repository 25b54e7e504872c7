import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * A tiny request/response protocol over the IPC channel of child_process.fork, so the
 * orchestrator can drive load workers step by step ("connect", "run", "reset", "result"...).
 * Serialization is 'advanced' (structured clone): typed arrays of latencies travel as they are.
 */
type Request = { rpc: number; method: string; params: unknown };
type Response = { rpc: number; ok: boolean; result?: unknown; error?: string };

export type Handlers = Record<string, (params: any) => unknown | Promise<unknown>>;

/** Worker side: answers requests from the parent; exits when the parent goes away. */
export function serveRpc(handlers: Handlers): void {
  if (!process.send) throw new Error('this script is a bench worker: start it with child_process.fork');
  process.on('message', async (raw: Request) => {
    if (!raw || typeof raw.rpc !== 'number') return;
    let response: Response;
    try {
      const handler = handlers[raw.method];
      if (!handler) throw new Error(`unknown method ${raw.method}`);
      response = { rpc: raw.rpc, ok: true, result: await handler(raw.params) };
    } catch (err) {
      response = { rpc: raw.rpc, ok: false, error: (err as Error).stack ?? String(err) };
    }
    process.send!(response);
  });
  process.on('disconnect', () => process.exit(0));
}

export class Worker {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private exited = false;
  readonly child: ChildProcess;

  constructor(
    readonly name: string,
    script: string,
  ) {
    const path = fileURLToPath(new URL(`../workers/${script}`, import.meta.url));
    this.child = fork(path, [], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=2048'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, BENCH_WORKER: name },
    });
    this.child.on('message', (raw: Response) => {
      const p = this.pending.get(raw.rpc);
      if (!p) return;
      this.pending.delete(raw.rpc);
      if (raw.ok) p.resolve(raw.result);
      else p.reject(new Error(`${this.name}: ${raw.error}`));
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`${this.name} exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  get pid() {
    return this.child.pid!;
  }

  call<T = unknown>(method: string, params: unknown = {}): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const rpc = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(rpc, { resolve, reject });
      this.child.send({ rpc, method, params } satisfies Request);
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Calls `method` on every worker at once and collects the answers in order. */
export const callAll = <T>(workers: Worker[], method: string, params: (w: Worker, i: number) => unknown = () => ({})) =>
  Promise.all(workers.map((w, i) => w.call<T>(method, params(w, i))));
