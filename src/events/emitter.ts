import type { Logger } from 'pino';
import { errorMessage } from '../observability/log-errors.js';
import type { DomainEventMap, DomainEventName } from './domain-events.js';

/** A reaction to a domain event. Give it a name (a named function): a failure is logged by it. */
export type Reaction<N extends DomainEventName> = (event: DomainEventMap[N]) => void | Promise<void>;

const settled: Promise<void> = Promise.resolve();
const nothing = () => {};
const none: readonly never[] = [];

/**
 * Raises domain events (see domain-events.ts) to the reactions registered for them. A service
 * raises an event once its write is committed and awaits the reactions, which run concurrently;
 * a reaction that fails is logged and never turns the committed write into an error.
 */
export class DomainEvents {
  // Copied on change, so a raise goes over the list as it was when it started.
  private readonly reactions: { [N in DomainEventName]?: readonly Reaction<N>[] } = {};

  constructor(private readonly log: Logger) {}

  /** Registers a reaction; returns its removal. Modules register theirs when they are made. */
  on<N extends DomainEventName>(name: N, reaction: Reaction<N>): () => void {
    this.set(name, [...this.list(name), reaction]);
    return () =>
      this.set(
        name,
        this.list(name).filter((r) => r !== reaction),
      );
  }

  /**
   * Runs every reaction to the event; settles once all have, whatever they did. Most reactions
   * return at once for most events (a send by someone who is no expert): only those still running
   * are waited for, so a send waits on one promise, not on one per reaction.
   */
  emit<N extends DomainEventName>(name: N, event: DomainEventMap[N]): Promise<void> {
    const reactions = this.list(name);
    let first: Promise<void> | undefined;
    let running: Promise<void>[] | undefined;
    for (let i = 0; i < reactions.length; i++) {
      const reaction = this.run(name, reactions[i]!, event);
      if (reaction === settled) continue;
      if (!first) first = reaction;
      else (running ??= [first]).push(reaction);
    }
    return running ? Promise.all(running).then(nothing) : (first ?? settled);
  }

  private run<N extends DomainEventName>(name: N, reaction: Reaction<N>, event: DomainEventMap[N]): Promise<void> {
    try {
      const result = reaction(event);
      return result ? result.catch((err: unknown) => this.failed(name, reaction, err)) : settled;
    } catch (err) {
      this.failed(name, reaction, err);
      return settled;
    }
  }

  private failed(name: DomainEventName, reaction: Reaction<never>, err: unknown): void {
    this.log.warn({ err: errorMessage(err), event: name, reaction: reaction.name || 'anonymous' }, 'a reaction to a committed write failed');
  }

  private list<N extends DomainEventName>(name: N): readonly Reaction<N>[] {
    return (this.reactions[name] as readonly Reaction<N>[] | undefined) ?? none;
  }

  private set<N extends DomainEventName>(name: N, reactions: readonly Reaction<N>[]): void {
    (this.reactions as Record<N, readonly Reaction<N>[]>)[name] = reactions;
  }
}
