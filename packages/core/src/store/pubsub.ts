import type { Subscription } from './types.ts';

/**
 * Publish/subscribe inside one process: what MemoryStore and FileStore offer (they are not
 * shared between processes), and what a plugin scope uses when its store has no pub/sub.
 * A listener that throws does not keep the message from the others.
 */
export class LocalPubSub {
  readonly #topics = new Map<string, Set<(message: string) => void>>();

  async publish(topic: string, message: string): Promise<void> {
    const listeners = this.#topics.get(topic);
    if (!listeners) return;
    for (const listener of [...listeners]) {
      try {
        listener(message);
      } catch {
        // The listener's own error handling failed; the others still get the message.
      }
    }
  }

  subscribe(topic: string, listener: (message: string) => void): Subscription {
    // A wrapper, so one function subscribed twice is two subscriptions.
    const entry = (message: string) => listener(message);
    let listeners = this.#topics.get(topic);
    if (!listeners) this.#topics.set(topic, (listeners = new Set()));
    listeners.add(entry);
    return {
      ready: Promise.resolve(),
      unsubscribe: async () => {
        listeners.delete(entry);
        if (listeners.size === 0 && this.#topics.get(topic) === listeners) this.#topics.delete(topic);
      },
    };
  }
}
