import { describe, expect, it } from 'vitest';
import { AsyncQueue } from '../../src/lib/async-queue.js';

describe('AsyncQueue', () => {
  it('hands events to a waiting consumer and buffers the rest, in order', async () => {
    const queue = new AsyncQueue<number>();
    const first = queue.next();
    queue.push(1);
    queue.push(2);
    queue.push(3);
    expect(await first).toEqual({ value: 1, done: false });
    expect(queue.size).toBe(2);
    expect(await queue.next()).toEqual({ value: 2, done: false });
    expect(await queue.next()).toEqual({ value: 3, done: false });
  });

  it('serves consumers that ask before the previous answer, in the order they asked', async () => {
    const queue = new AsyncQueue<string>();
    const a = queue.next();
    const b = queue.next();
    queue.push('x');
    queue.push('y');
    expect([await a, await b]).toEqual([
      { value: 'x', done: false },
      { value: 'y', done: false },
    ]);
  });

  it('ends after what is buffered, and runs each cleanup once, whoever ends it', async () => {
    const queue = new AsyncQueue<number>();
    let cleaned = 0;
    queue.onFinish(() => cleaned++);
    queue.push(1);
    queue.end();
    queue.end();
    expect(await queue.next()).toEqual({ value: 1, done: false });
    await queue.return();
    expect(cleaned).toBe(1);
    expect(await queue.next()).toEqual({ value: undefined, done: true });

    let late = 0;
    queue.onFinish(() => late++);
    expect(late).toBe(1);
  });

  it('return() drops what is buffered and wakes a waiting consumer with the end', async () => {
    const queue = new AsyncQueue<number>();
    const waiting = queue.next();
    await queue.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
    queue.push(1);
    expect(await queue.next()).toEqual({ value: undefined, done: true });
  });

  it('fails every waiting consumer, and the next call once', async () => {
    const queue = new AsyncQueue<number>();
    const a = queue.next();
    const b = queue.next();
    queue.fail(new Error('gone'));
    await expect(a).rejects.toThrow('gone');
    await expect(b).rejects.toThrow('gone');
    await expect(queue.next()).rejects.toThrow('gone');
    expect(await queue.next()).toEqual({ value: undefined, done: true });
  });

  it('fails when the consumer falls more than its buffer behind', async () => {
    const queue = new AsyncQueue<number>(2);
    queue.push(1);
    queue.push(2);
    queue.push(3);
    expect(queue.done).toBe(true);
    await expect(queue.next()).rejects.toThrow(/too slow/);
  });

  it('whenBelow waits until the consumer has taken enough, or the queue ends', async () => {
    const queue = new AsyncQueue<number>();
    for (let i = 0; i < 3; i++) queue.push(i);
    let room = false;
    const waiting = queue.whenBelow(2).then(() => (room = true));
    await queue.next();
    await Promise.resolve();
    expect(room).toBe(false);
    await queue.next();
    await waiting;
    expect(room).toBe(true);

    queue.push(9);
    const ended = queue.whenBelow(1);
    queue.end();
    await ended;
  });
});
