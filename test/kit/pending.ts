// What the running test is waiting for. The kit's waits have no deadline of their own (a loaded
// machine is slow, not wrong); when vitest's per-test timeout ends a test that waited for
// something that never came, the setup file (setup.ts) prints what that was.

type Wait = { describe: () => string; abandoned: boolean };

const pending = new Set<Wait>();

/** `run(wait)`, listed as waiting for what `describe` says until it settles. */
export function waitingFor<T>(describe: () => string, run: (wait: { readonly abandoned: boolean }) => Promise<T>): Promise<T> {
  const wait: Wait = { describe, abandoned: false };
  pending.add(wait);
  return run(wait).finally(() => pending.delete(wait));
}

/**
 * What is still being waited for, described; the waits are abandoned (a poll stops polling), as
 * the test that started them is over.
 */
export function takePending(): string[] {
  const described = [...pending].map((w) => {
    w.abandoned = true;
    return w.describe();
  });
  pending.clear();
  return described;
}
