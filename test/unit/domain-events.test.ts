// The domain event emitter: reactions run concurrently, a raise settles once all have, and a
// reaction that fails is logged, never thrown at the service that raised the event.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import type { MessageRow } from '../../src/db/schema/index.js';
import { DomainEvents } from '../../src/events/emitter.js';

const actor: Viewer = { orgId: 'o', userId: 'u', displayName: 'u', kind: 'USER', roles: [], credential: { type: 'apiKey', keyId: 'k', actingAs: false } };
const message = { id: 'm', conversationId: 'c', seq: 1 } as MessageRow;
const event = { actor, message, via: 'send' as const };

function recordingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

describe('DomainEvents', () => {
  it('runs the reactions to an event concurrently and settles once every one has', async () => {
    const events = new DomainEvents(recordingLog().log);
    const order: string[] = [];
    let releaseFirst!: () => void;
    events.on('messageCommitted', async function first() {
      order.push('first started');
      await new Promise<void>((resolve) => (releaseFirst = resolve));
      order.push('first done');
    });
    events.on('messageCommitted', async function second() {
      order.push('second started');
      // The first is still waiting: the second did not wait for it to finish.
      releaseFirst();
    });
    let settled = false;
    const raised = events.emit('messageCommitted', event).then(() => (settled = true));
    expect(order).toEqual(['first started', 'second started']);
    await raised;
    expect(settled).toBe(true);
    expect(order).toEqual(['first started', 'second started', 'first done']);
  });

  it('logs a reaction that throws or rejects by its name, and still runs the others', async () => {
    const { log, lines } = recordingLog();
    const events = new DomainEvents(log);
    const seen: string[] = [];
    events.on('messageCommitted', function throwsAtOnce() {
      throw new Error('sync failure');
    });
    events.on('messageCommitted', async function rejectsLater() {
      await Promise.resolve();
      throw new Error('async failure');
    });
    events.on('messageCommitted', ({ message: m }) => void seen.push(m.id));
    await expect(events.emit('messageCommitted', event)).resolves.toBeUndefined();
    expect(seen).toEqual(['m']);
    expect(lines.map((l) => [l.event, l.reaction, l.err])).toEqual([
      ['messageCommitted', 'throwsAtOnce', 'sync failure'],
      ['messageCommitted', 'rejectsLater', 'async failure'],
    ]);
  });

  it('raises to the reactions of that event only, and not to one removed', async () => {
    const events = new DomainEvents(recordingLog().log);
    const seen: string[] = [];
    const off = events.on('messageEdited', () => void seen.push('edited'));
    events.on('messageDeleted', () => void seen.push('deleted'));
    await events.emit('messageEdited', { actor, message });
    off();
    await events.emit('messageEdited', { actor, message });
    await events.emit('messageCommitted', event);
    expect(seen).toEqual(['edited']);
  });
});
