import { executionAsyncId } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { collectPluginOptionErrors, definePlugin, didYouMean, PluginOptionsError } from '../src/index.ts';

const greet = definePlugin({
  name: 'greet',
  options: z.object({ greeting: z.string().min(1).default('你好'), prompt: z.string().optional(), memory: z.strictObject({ turns: z.number() }).optional() }),
  setup() {},
});
const strict = definePlugin({ name: 'strict', options: z.strictObject({ threshold: z.number().max(1).default(0.5) }), setup() {} });

describe('plugin options', () => {
  it('an unknown option of a plain z.object is an error (zod would drop it), with a did-you-mean', () => {
    expect(() => greet({ promt: 'x' } as never)).toThrow('plugin "greet": unknown option "promt" (did you mean "prompt"?)');
    expect(() => greet({ memory: { turn: 3 } } as never)).toThrow('unknown option "memory.turn" (did you mean "memory.turns"?)');
    // Nothing close: no guess.
    expect(() => greet({ zzzzzz: 1 } as never)).toThrow(/unknown option "zzzzzz"$/);
  });

  it('a strict object gets the suggestion too, and every problem of one plugin is in its message', () => {
    const error = (() => {
      try {
        strict({ treshold: 2, extra: 1 } as never);
      } catch (e) {
        return e as PluginOptionsError;
      }
    })();
    expect(error).toBeInstanceOf(PluginOptionsError);
    expect(error!.problems).toEqual(['plugin "strict": unknown option "treshold" (did you mean "threshold"?)', 'plugin "strict": unknown option "extra"']);
  });

  it("while collecting, every plugin's errors are reported together, not only the first plugin's", async () => {
    const attempt = collectPluginOptionErrors(async () => [greet({ greting: 'x' } as never), strict({ threshold: 3 }), greet({ greeting: 'ok' })]);
    const error = await attempt.then(
      () => undefined,
      (e: unknown) => e as PluginOptionsError,
    );
    expect(error).toBeInstanceOf(PluginOptionsError);
    expect(error!.problems).toEqual(['plugin "greet": unknown option "greting" (did you mean "greeting"?)', expect.stringMatching(/^plugin "strict": option "threshold": /)]);
    expect(error!.errors).toHaveLength(2);
    // Outside collection the factory throws at once, as before.
    expect(() => strict({ threshold: 3 })).toThrow(PluginOptionsError);
    await expect(collectPluginOptionErrors(async () => greet({ greeting: 'fine' }).name)).resolves.toBe('greet');
  });

  it('a collection leaves no promise tracking behind (an enabled AsyncLocalStorage hooks every promise of the process)', async () => {
    /** Whether promise continuations run as async resources of their own (promise hooks on). */
    const promisesTracked = async () => {
      await Promise.resolve();
      const first = executionAsyncId();
      await Promise.resolve();
      return executionAsyncId() !== first;
    };
    expect(await promisesTracked()).toBe(false); // nothing else in this test process tracks them
    await collectPluginOptionErrors(async () => greet({ greeting: 'ok' }));
    await expect(collectPluginOptionErrors(async () => greet({ greting: 'x' } as never))).rejects.toThrow(PluginOptionsError);
    expect(await promisesTracked()).toBe(false);
    // Two at once: the first to end leaves the other's collection working.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = collectPluginOptionErrors(async () => {
      await held;
      return greet({ greting: 'late' } as never);
    });
    await collectPluginOptionErrors(async () => greet({ greeting: 'ok' }));
    release();
    await expect(slow).rejects.toThrow('unknown option "greting"');
    expect(await promisesTracked()).toBe(false);
  });

  it('didYouMean: case, swapped letters, one typo per three letters at most', () => {
    expect(didYouMean('SystemPrompt', ['systemPrompt', 'model'])).toBe('systemPrompt');
    expect(didYouMean('modle', ['model', 'baseURL'])).toBe('model');
    expect(didYouMean('xyz', ['model', 'baseURL'])).toBeUndefined();
  });
});
