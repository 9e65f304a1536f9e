import { describe, expect, it } from 'vitest';
import { AiBotStream, StreamRegistry } from '../src/channels/aibot/streams.ts';

describe('AI-bot streams', () => {
  it('serves the full snapshot so far, and finish once the source ends', () => {
    const stream = new AiBotStream();
    stream.append('一');
    expect(stream.snapshot()).toMatchObject({ content: '一', finish: false });
    stream.append('二');
    expect(stream.snapshot()).toMatchObject({ content: '一二', finish: false });
    stream.end();
    expect(stream.snapshot()).toMatchObject({ content: '一二', finish: true });
    expect(stream.overflow).toBe('');
  });

  it('finishes at the byte cap without splitting a character; the rest is overflow', () => {
    const stream = new AiBotStream({ limitBytes: 10 });
    stream.append('ab');
    stream.append('你好世界'); // 2 + 12 bytes
    const snapshot = stream.snapshot();
    expect(snapshot).toEqual({ id: stream.id, content: 'ab你好', finish: true });
    stream.append('!');
    stream.end();
    expect(stream.snapshot().content).toBe('ab你好');
    expect(stream.overflow).toBe('世界!');
  });

  it("finishes when WeCom's window is about to close, keeping the rest for response_url", () => {
    const start = Date.now();
    const stream = new AiBotStream({ maxAgeMs: 1000 }, start);
    stream.append('早');
    expect(stream.snapshot(start + 999).finish).toBe(false);
    expect(stream.snapshot(start + 1000)).toMatchObject({ content: '早', finish: true });
    stream.append('晚');
    stream.end();
    expect(stream.overflow).toBe('晚');
  });

  it('leaves <think> reasoning out unless asked, even while it is still open', () => {
    const hidden = new AiBotStream();
    const shown = new AiBotStream({ showThinking: true });
    for (const s of [hidden, shown]) {
      s.append('<think>先想');
      s.append('一想</think>答案');
    }
    hidden.append('');
    expect(hidden.snapshot().content).toBe('答案');
    expect(shown.snapshot().content).toBe('<think>先想一想</think>答案');
    const open = new AiBotStream();
    open.append('<think>还在想');
    expect(open.snapshot().content).toBe('');
  });

  it('keeps streams by id in a registry', () => {
    const registry = new StreamRegistry();
    const stream = registry.create();
    expect(registry.get(stream.id)).toBe(stream);
    expect(registry.get('nope')).toBeUndefined();
    registry.clear();
  });
});
