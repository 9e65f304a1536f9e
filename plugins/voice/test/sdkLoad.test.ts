/**
 * With a transcription endpoint, the OpenAI SDK is loaded in the plugin's setup (bench/README.md,
 * "Modules a bot does not use"): an SDK that cannot be loaded stops start-up with the plugin
 * named and the load's error as the cause, as a failed static import stopped it before. Without
 * an endpoint nothing loads it, and the plugin starts.
 */
import { createTestBot } from '@wxbot/testing';
import { describe, expect, it, vi } from 'vitest';
import { voice } from '../src/index.ts';

// The SDK's module fails to load as it would in a process out of file descriptors.
vi.mock('openai', () => {
  throw Object.assign(new Error("EMFILE: too many open files, open '/app/node_modules/openai/index.mjs'"), { code: 'EMFILE' });
});

/** The messages of an error and its causes. */
function causes(error: unknown): string[] {
  const messages: string[] = [];
  for (let e = error; e instanceof Error; e = e.cause) messages.push(e.message);
  return messages;
}

describe('an OpenAI SDK that cannot be loaded', () => {
  it("fails the voice plugin's setup with an endpoint, naming the plugin, the load's error as its cause", async () => {
    const error = await createTestBot({ plugins: [voice({ baseURL: 'http://127.0.0.1:9/v1', apiKey: 'k' })] }).catch((e: unknown) => e);
    expect(causes(error)[0]).toMatch(/^plugin "voice" failed in setup: /);
    // Under vitest the mock's error comes wrapped in one of vitest's own.
    expect(causes(error)).toContain("EMFILE: too many open files, open '/app/node_modules/openai/index.mjs'");
  });

  it('is never loaded without an endpoint (transcribe: false)', async () => {
    const kit = await createTestBot({ plugins: [voice({ transcribe: false })] });
    await kit.close();
  });
});
