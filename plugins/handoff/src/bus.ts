import { randomUUID } from 'node:crypto';
import type { Logger, Store } from '@wxbot/core';
import type { BroadcastEvent } from './protocol.ts';

/** Delivers broadcast events to the agents connected to this instance. */
export type Listener = (event: BroadcastEvent) => void;

/**
 * Spreads events to every agent: those connected here at once, and, when the store is Redis,
 * those of the other instances through a pub/sub channel.
 */
export interface EventBus {
  publish(event: BroadcastEvent): void;
  subscribe(listener: Listener): () => void;
  close(): Promise<void>;
}

/** Events for the agents of this process only (any store but Redis). */
export class LocalBus implements EventBus {
  readonly #listeners = new Set<Listener>();
  constructor(protected readonly log: Logger) {}

  publish(event: BroadcastEvent): void {
    this.deliver(event);
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  protected deliver(event: BroadcastEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.log.error({ err: error, event: event.type }, 'hand-off event listener failed');
      }
    }
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}

/** The part of an ioredis client the bridge uses (kept structural: no ioredis dependency). */
export interface RedisLike {
  publish(channel: string, message: string): Promise<unknown>;
  duplicate(): RedisSubscriber;
}
export interface RedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  once(event: 'ready', listener: () => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** The Redis client of a RedisStore (found by shape, so any copy of @wxbot/core works). */
export function redisClientOf(store: Store): RedisLike | undefined {
  const client = (store as { client?: unknown }).client;
  const candidate = client as Partial<RedisLike> | undefined;
  return typeof candidate?.publish === 'function' && typeof candidate.duplicate === 'function' ? (candidate as RedisLike) : undefined;
}

interface Envelope {
  readonly origin: string;
  readonly event: BroadcastEvent;
}

/**
 * Events over Redis pub/sub. Local agents get an event at once; the other instances get it
 * from the channel (a duplicate of the store's client subscribes, as a subscribed connection
 * can run no other command). Each instance skips what it published itself.
 */
export class RedisBus extends LocalBus {
  readonly #instance = randomUUID();
  readonly #subscriber: RedisSubscriber;

  private constructor(
    log: Logger,
    private readonly client: RedisLike,
    private readonly channel: string,
  ) {
    super(log);
    this.#subscriber = client.duplicate();
  }

  static async start(log: Logger, client: RedisLike, channel: string): Promise<RedisBus> {
    const bus = new RedisBus(log, client, channel);
    await bus.#listen();
    return bus;
  }

  async #listen(): Promise<void> {
    this.#subscriber.on('error', (error) => this.log.warn({ err: error }, 'hand-off Redis subscriber error (it reconnects)'));
    this.#subscriber.on('message', (channel, raw) => {
      if (channel !== this.channel) return;
      let envelope: Envelope;
      try {
        envelope = JSON.parse(raw) as Envelope;
      } catch {
        this.log.warn({ channel }, 'hand-off: unreadable event on the Redis channel ignored');
        return;
      }
      if (envelope.origin !== this.#instance) this.deliver(envelope.event);
    });
    try {
      await this.#subscriber.subscribe(this.channel);
    } catch (error) {
      // Redis is down at start-up: the bot still starts (the store fails per call meanwhile),
      // and the subscription is made once the connection is back (ioredis keeps it after that).
      this.log.warn({ err: error }, 'hand-off: Redis subscription failed; retrying when Redis is back');
      this.#subscriber.once('ready', () => void this.#listenAgain());
    }
  }

  async #listenAgain(): Promise<void> {
    try {
      await this.#subscriber.subscribe(this.channel);
      this.log.info('hand-off: Redis subscription made');
    } catch (error) {
      this.log.warn({ err: error }, 'hand-off: Redis subscription failed again; retrying when Redis is back');
      this.#subscriber.once('ready', () => void this.#listenAgain());
    }
  }

  override publish(event: BroadcastEvent): void {
    this.deliver(event);
    const envelope: Envelope = { origin: this.#instance, event };
    this.client.publish(this.channel, JSON.stringify(envelope)).catch((error: unknown) => {
      // The state is in Redis already; other instances' agents catch up on their next hello.
      this.log.warn({ err: error, event: event.type }, 'hand-off event not published to the other instances');
    });
  }

  override async close(): Promise<void> {
    await super.close();
    try {
      await this.#subscriber.quit();
    } catch {
      this.#subscriber.disconnect();
    }
  }
}
