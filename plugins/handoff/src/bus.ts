import { randomUUID } from 'node:crypto';
import type { Logger, PluginScope } from '@wxbot/core';
import type { BroadcastEvent } from './protocol.ts';

/** Delivers broadcast events to the agents connected to this instance. */
export type Listener = (event: BroadcastEvent) => void;

/** Spreads events to every agent, on this instance and on the others sharing the store. */
export interface EventBus {
  publish(event: BroadcastEvent): void;
  subscribe(listener: Listener): () => void;
  close(): Promise<void>;
}

interface Envelope {
  readonly origin: string;
  readonly event: BroadcastEvent;
}

/**
 * Events over the store's pub/sub (the plugin scope's `publish`/`subscribe`: Redis between
 * instances, in-process otherwise). Local agents get an event at once; the other instances
 * get it from the topic, and each instance skips what it published itself. The subscription
 * is undone by the scope when the bot stops.
 */
export class StoreBus implements EventBus {
  readonly #listeners = new Set<Listener>();
  readonly #instance = randomUUID();

  constructor(
    private readonly log: Logger,
    private readonly scope: Pick<PluginScope, 'publish' | 'subscribe'>,
    private readonly topic: string,
  ) {
    const subscription = scope.subscribe(topic, (raw) => {
      let envelope: Envelope;
      try {
        envelope = JSON.parse(raw) as Envelope;
      } catch {
        this.log.warn({ topic }, 'hand-off: unreadable event on the pub/sub topic ignored');
        return;
      }
      if (envelope.origin !== this.#instance) this.#deliver(envelope.event);
    });
    // The store is down at start-up: the bot still starts, and the store subscribes once it is back.
    subscription.ready.catch((error: unknown) => this.log.warn({ err: error }, 'hand-off: pub/sub subscription failed; retrying when the store is back'));
  }

  publish(event: BroadcastEvent): void {
    this.#deliver(event);
    const envelope: Envelope = { origin: this.#instance, event };
    this.scope.publish(this.topic, JSON.stringify(envelope)).catch((error: unknown) => {
      // The state is in the store already; other instances' agents catch up on their next hello.
      this.log.warn({ err: error, event: event.type }, 'hand-off event not published to the other instances');
    });
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }

  #deliver(event: BroadcastEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.log.error({ err: error, event: event.type }, 'hand-off event listener failed');
      }
    }
  }
}
