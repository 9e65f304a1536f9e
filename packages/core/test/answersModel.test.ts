import { afterEach, describe, expect, it, vi } from 'vitest';
import { AnswerRing, NOT_KEPT } from '../src/delivery/answers.ts';
import { seededRandom } from './helpers.ts';

/**
 * AnswerRing against a reference model of its documented layout and rules, driven by long
 * seeded random sequences: bodies of one- to four-byte characters, empty ones, bodies near a
 * chunk's size (kept or not), lifetimes passing, tiny chunks, `max` and budgets.
 *
 * The model: chunks in ring order; a record takes 8 bytes and its UTF-8 body to a multiple of
 * 8; it goes in the head chunk, or, when it does not fit there, the next chunk in the ring is
 * overwritten whole, unless it holds an answer inside its lifetime and one more chunk stays
 * within the budget (and below 4096 chunks): then a new chunk goes in after the head. Before
 * a write, while `max` answers are kept, the oldest chunk holding any is dropped (the head's
 * own, when it is the only one). An answer reads back while its chunk was not overwritten or
 * dropped and `second(now) - second(written) <= lifetime`; an answer longer than a chunk
 * (its bytes and header), or any when `max < 1`, is not kept and changes nothing.
 */

afterEach(() => vi.useRealTimers());

interface ModelAnswer {
  readonly body: string;
  readonly second: number;
  dropped: boolean;
}

interface ModelChunk {
  answers: ModelAnswer[];
  used: number;
}

class AnswersModel {
  readonly ring: ModelChunk[] = [];
  #head = -1;

  constructor(
    readonly lifetimeSeconds: number,
    readonly max: number,
    readonly budget: number,
    readonly chunkBytes: number,
  ) {}

  get size(): number {
    let size = 0;
    for (const chunk of this.ring) size += chunk.answers.length;
    return size;
  }

  #clear(chunk: ModelChunk): void {
    for (const answer of chunk.answers) answer.dropped = true;
    chunk.answers = [];
    chunk.used = 0;
  }

  /** The answer kept, or undefined when it is not. */
  write(body: string, now: number): ModelAnswer | undefined {
    const bytes = Buffer.byteLength(body);
    if (this.max < 1 || 8 + bytes > this.chunkBytes) return undefined;
    if (this.#head < 0) {
      this.ring.push({ answers: [], used: 0 });
      this.#head = 0;
    }
    while (this.size >= this.max) {
      // The oldest chunk holding answers: the first after the head, round to the head itself.
      for (let step = 1; step <= this.ring.length; step++) {
        const chunk = this.ring[(this.#head + step) % this.ring.length]!;
        if (chunk.answers.length > 0) {
          this.#clear(chunk);
          break;
        }
      }
    }
    const record = 8 + Math.ceil(bytes / 8) * 8;
    if (this.ring[this.#head]!.used + record > this.chunkBytes) {
      const next = this.ring[(this.#head + 1) % this.ring.length]!;
      const newest = next.answers.at(-1);
      const live = newest !== undefined && now - newest.second <= this.lifetimeSeconds;
      const room = (this.ring.length + 1) * this.chunkBytes <= this.budget && this.ring.length + 1 < 4096;
      if (live && room) {
        this.ring.splice(this.#head + 1, 0, { answers: [], used: 0 });
        this.#head++;
      } else {
        this.#clear(next);
        this.#head = (this.#head + 1) % this.ring.length;
      }
    }
    const head = this.ring[this.#head]!;
    // What a retry gets: the first answer's bytes decoded (a lone surrogate went out as U+FFFD).
    const answer = { body: Buffer.from(body).toString(), second: now, dropped: false };
    head.answers.push(answer);
    head.used += record;
    return answer;
  }

  read(answer: ModelAnswer | undefined, now: number): string | undefined {
    return answer === undefined || answer.dropped || now - answer.second > this.lifetimeSeconds ? undefined : answer.body;
  }
}

/** A body of about `bytes` UTF-8 bytes of one kind of character (ASCII, 2-, 3- or 4-byte ones, a lone surrogate). */
function bodyOf(random: () => number, bytes: number, serial: number): string {
  const head = `<xml>${serial}</xml>`;
  const kinds: [string, number][] = [
    ['x', 1],
    ['é', 2],
    ['答', 3],
    ['😀', 4],
    ['\ud800', 3],
  ];
  const [character, width] = kinds[Math.floor(random() * kinds.length)]!;
  const fill = Math.max(0, Math.floor((bytes - head.length) / width));
  return head + character.repeat(fill) + 'yz'.slice(0, Math.max(0, bytes - head.length - fill * width));
}

interface Run {
  seed: number;
  max: number;
  budget: number;
  chunkBytes: number;
  lifetimeMs: number;
  steps: number;
  /** No jumps of time past the lifetime (so every chunk stays live). */
  calm?: boolean;
  /** The chunks the run must end with, where that is its point. */
  chunksAtEnd?: number;
}

function drive({ seed, max, budget, chunkBytes, lifetimeMs, steps, calm, chunksAtEnd }: Run): void {
  vi.useFakeTimers({ toFake: ['performance'] });
  const random = seededRandom(seed);
  const ring = new AnswerRing(lifetimeMs, max, budget, chunkBytes);
  const model = new AnswersModel(Math.ceil(lifetimeMs / 1000), max, budget, chunkBytes);
  const second = () => Math.floor(performance.now() / 1000);
  const written: { place: number; answer: ModelAnswer | undefined }[] = [];
  const check = (i: number) => {
    const { place, answer } = written[i]!;
    const got = ring.read(place);
    const want = model.read(answer, second());
    if (got !== want) throw new Error(`seed ${seed}: answer ${i} (place ${place}) read ${JSON.stringify(got?.slice(0, 40))}, model ${JSON.stringify(want?.slice(0, 40))}`);
  };
  for (let step = 0; step < steps; step++) {
    const r = random();
    if (r < 0.15) vi.advanceTimersByTime(Math.floor(random() * 300));
    else if (r < 0.155) vi.advanceTimersByTime(calm ? 0 : Math.floor(random() * 2 * lifetimeMs));
    else if (r < 0.4 && written.length > 0) {
      // Recent answers mostly (as retries come), some old.
      const back = random() < 0.8 ? Math.floor(random() * 50) : Math.floor(random() * written.length);
      check(Math.max(0, written.length - 1 - back));
    } else if (r < 0.41) {
      // Not a place: read as absent.
      const junk = [NOT_KEPT, 0, -0, 3.5, Number.NaN, Number.POSITIVE_INFINITY, -(2 ** 26), 2 ** 53][Math.floor(random() * 8)]!;
      if (ring.read(junk) !== undefined) throw new Error(`seed ${seed}: read(${junk}) gave an answer`);
    } else {
      const s = random();
      // Sizes of every kind: small, ~a chunk's (just in, just out), empty.
      const bytes =
        s < 0.7
          ? Math.floor(random() * 200)
          : s < 0.85
            ? chunkBytes - 8 - Math.floor(random() * 4) * 8 + Math.floor(random() * 8)
            : s < 0.9
              ? chunkBytes - 7 + Math.floor(random() * 4)
              : s < 0.95
                ? 0
                : Math.floor(random() * chunkBytes);
      const body = bytes === 0 ? '' : bodyOf(random, bytes, written.length);
      const place = ring.write(body);
      const answer = model.write(body, second());
      if ((place === NOT_KEPT) !== (answer === undefined))
        throw new Error(`seed ${seed}: write of ${Buffer.byteLength(body)} bytes gave ${place}, the model ${answer ? 'kept' : 'did not keep'} it`);
      written.push({ place, answer });
      check(written.length - 1);
      if (ring.size !== model.size) throw new Error(`seed ${seed}: size ${ring.size}, model ${model.size}`);
      if (ring.bytes !== model.ring.length * chunkBytes) throw new Error(`seed ${seed}: ${ring.bytes} bytes, model ${model.ring.length} chunks`);
    }
    if (step % 1000 === 0) for (let i = Math.max(0, written.length - 2000); i < written.length; i++) check(i);
  }
  for (let i = 0; i < written.length; i++) check(i);
  // The documented bounds: at most `max` answers, the chunks within the budget (one at least).
  expect(ring.size).toBeLessThanOrEqual(Math.max(0, max));
  expect(ring.bytes).toBeLessThanOrEqual(Math.max(chunkBytes, Math.floor(budget / chunkBytes) * chunkBytes));
  if (chunksAtEnd !== undefined) expect(ring.bytes).toBe(chunksAtEnd * chunkBytes);
}

describe('AnswerRing against a reference model (seeded random sequences)', () => {
  const runs: Run[] = [
    { seed: 11, max: 100_000, budget: 16 * 64, chunkBytes: 64, lifetimeMs: 3000, steps: 20_000 },
    { seed: 12, max: 3, budget: 4 * 128, chunkBytes: 128, lifetimeMs: 2000, steps: 10_000 },
    { seed: 13, max: 1, budget: 1024, chunkBytes: 256, lifetimeMs: 60_000, steps: 5_000 },
    { seed: 14, max: 0, budget: 1024, chunkBytes: 256, lifetimeMs: 60_000, steps: 1_000 },
    { seed: 15, max: 25, budget: 64 * 1024, chunkBytes: 512, lifetimeMs: 5000, steps: 20_000 },
    { seed: 16, max: 100_000, budget: 100, chunkBytes: 128, lifetimeMs: 60_000, steps: 5_000 },
    { seed: 17, max: 100_000, budget: 32 * 4096, chunkBytes: 4096, lifetimeMs: 1000, steps: 20_000 },
    { seed: 18, max: 500, budget: 2 ** 40, chunkBytes: 64, lifetimeMs: 60_000, steps: 20_000 },
    // Every chunk live and budget for more than 4096: the ring stops at 4095 chunks (the epochs a place can name), then wraps.
    { seed: 19, max: 100_000, budget: 64 * 5000, chunkBytes: 64, lifetimeMs: 600_000, steps: 40_000, calm: true, chunksAtEnd: 4095 },
  ];
  it.each(runs)('seed $seed: max $max, budget $budget, chunks of $chunkBytes, lifetime $lifetimeMs ms', (run) => drive(run));
});
