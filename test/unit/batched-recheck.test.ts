// The re-check list under membership watches and API-key revocations: batched, once per watcher.
import { describe, expect, it } from 'vitest';
import { RECHECK_BATCH, RecheckList } from '../../src/lib/batched-recheck.js';

/** A list whose items hold while they are in `holding`; counts the batches it is asked. */
function listOver(holding: Set<string>) {
  const batches: number[] = [];
  const list = new RecheckList<string>({
    name: 'test',
    everyMs: 60_000,
    present: async (items) => {
      batches.push(items.length);
      return new Set(items.filter((item) => holding.has(item)));
    },
  });
  return { list, batches };
}

describe('RecheckList', () => {
  it('checks every watched item in batches and tells the watchers of gone ones once each', async () => {
    const ids = Array.from({ length: RECHECK_BATCH + 1 }, (_, i) => `k${i}`);
    const holding = new Set(ids);
    const { list, batches } = listOver(holding);
    const told: string[] = [];
    for (const id of ids) list.watch(id, id, () => told.push(id));
    list.watch('k7', 'k7', () => told.push('k7 again'));
    holding.delete('k7');
    await list.recheck();
    expect(batches).toEqual([RECHECK_BATCH, 1]);
    expect(told).toEqual(['k7', 'k7 again']);
    await list.recheck();
    expect(told).toHaveLength(2);
    list.stop();
  });

  it('tells the other watchers when one of them throws, and forgets unwatched ones', async () => {
    const { list, batches } = listOver(new Set());
    const told: string[] = [];
    list.watch('a', 'a', () => {
      throw new Error('cannot close');
    });
    list.watch('a', 'a', () => told.push('a'));
    list.watch('b', 'b', () => told.push('b'));
    const unwatch = list.watch('c', 'c', () => told.push('c'));
    unwatch();
    await list.recheck();
    expect(told.sort()).toEqual(['a', 'b']);
    expect(batches).toEqual([2]);
    list.stop();
  });
});
