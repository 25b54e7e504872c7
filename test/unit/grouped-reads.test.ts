import { describe, expect, it } from 'vitest';
import { GroupedReads } from '../../src/lib/grouped-reads.js';

describe('GroupedReads', () => {
  it('reads a key at once when idle, and groups the keys asked for while reads run', async () => {
    const reads: string[][] = [];
    const gates: (() => void)[] = [];
    const reader = new GroupedReads<string, string>(async (keys) => {
      reads.push(keys);
      await new Promise<void>((resolve) => gates.push(resolve));
      return new Map(keys.filter((k) => k !== 'missing').map((k) => [k, k.toUpperCase()]));
    }, 1);
    const first = reader.get('a');
    const later = [reader.get('b'), reader.get('c'), reader.get('b'), reader.get('missing')];
    expect(reads).toEqual([['a']]);
    gates.shift()!();
    expect(await first).toBe('A');
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads).toEqual([['a'], ['b', 'c', 'missing']]);
    gates.shift()!();
    expect(await Promise.all(later)).toEqual(['B', 'C', 'B', undefined]);
  });

  it('rejects every caller of a failed read, and reads again afterwards', async () => {
    let fail = true;
    const reader = new GroupedReads<number, number>(async (keys) => {
      if (fail) throw new Error('down');
      return new Map(keys.map((k) => [k, k * 2]));
    });
    await expect(reader.get(1)).rejects.toThrow('down');
    fail = false;
    expect(await reader.get(2)).toBe(4);
  });
});
