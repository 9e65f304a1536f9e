import { describe, expect, it } from 'vitest';
import { BufferedResponse } from '../src/response.ts';

const RAW = ['Content-Type', 'application/json', 'X-Request-Id', 'req_1', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'];
const JSON_BYTES = Buffer.from('{"choices":[{"message":{"content":"回答: 你好"}}]}');

/** The same answer as Node's own Response and as a BufferedResponse. */
function both(bytes: Buffer, status = 200): { plain: Response; buffered: Response } {
  const headers = new Headers();
  for (let i = 0; i < RAW.length; i += 2) headers.append(RAW[i]!, RAW[i + 1]!);
  return {
    plain: new Response(bytes, { status, statusText: 'OK', headers }),
    buffered: new BufferedResponse(bytes, status, 'OK', RAW) as unknown as Response,
  };
}

/** What a sequence of reads gives: values, or the error's class. */
async function outcome(steps: (() => Promise<unknown>)[]): Promise<unknown[]> {
  const results: unknown[] = [];
  for (const step of steps) {
    try {
      const value = await step();
      results.push(value instanceof ArrayBuffer || value instanceof Uint8Array ? [...new Uint8Array(value)] : value instanceof Blob ? await value.text() : value);
    } catch (error) {
      results.push(`${(error as Error).constructor.name}`);
    }
  }
  return results;
}

async function readStream(response: Response): Promise<string> {
  return new Response(response.body).text();
}

describe('BufferedResponse (a JSON answer read whole)', () => {
  it('is a Response with the status, status text and headers of the answer', () => {
    const { plain, buffered } = both(JSON_BYTES, 201);
    expect(buffered).toBeInstanceOf(Response);
    expect([buffered.status, buffered.statusText, buffered.ok, buffered.type]).toEqual([plain.status, plain.statusText, plain.ok, plain.type]);
    expect([...buffered.headers]).toEqual([...plain.headers]);
    expect(buffered.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(new BufferedResponse(JSON_BYTES, 200, '', RAW, new Set(['x-request-id'])).headers.has('x-request-id')).toBe(false);
  });

  // Each sequence of reads gives what Node's own Response gives over the same bytes.
  const sequences: Record<string, (r: Response) => (() => Promise<unknown>)[]> = {
    'json, then json again': (r) => [() => r.json(), () => r.json(), async () => r.bodyUsed],
    'text, then arrayBuffer': (r) => [() => r.text(), () => r.arrayBuffer(), async () => r.bodyUsed],
    'arrayBuffer, then text': (r) => [() => r.arrayBuffer(), () => r.text()],
    'blob, then json': (r) => [() => r.blob(), () => r.json()],
    'the body as a stream, then json': (r) => [async () => r.bodyUsed, () => readStream(r), async () => r.bodyUsed, () => r.json()],
    'json, then the body as a stream': (r) => [() => r.json(), async () => r.bodyUsed, () => readStream(r)],
    'clone, then both read': (r) => {
      let copy: Response | undefined;
      return [async () => void (copy = r.clone()), () => r.json(), () => copy!.text(), async () => [...copy!.headers].length, async () => copy!.status];
    },
    'clone after a read': (r) => [() => r.text(), async () => r.clone()],
  };
  for (const [name, steps] of Object.entries(sequences)) {
    it(`reads like Node's Response: ${name}`, async () => {
      const { plain, buffered } = both(JSON_BYTES);
      const expected = await outcome(steps(plain));
      expect(await outcome(steps(buffered))).toEqual(expected);
    });
  }

  it('decodes UTF-8 as fetch does: a leading byte order mark dropped, bad bytes as U+FFFD; bad JSON a SyntaxError', async () => {
    const odd = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":"é'), Buffer.from([0xff]), Buffer.from('"}')]);
    for (const bytes of [odd, Buffer.from('{"a":')]) {
      const texts = both(bytes);
      expect(await outcome([() => texts.buffered.text()])).toEqual(await outcome([() => texts.plain.text()]));
      const json = both(bytes);
      expect(await outcome([() => json.buffered.json()])).toEqual(await outcome([() => json.plain.json()]));
    }
  });

  it('hands out a copy: changing what arrayBuffer() gave leaves a clone’s bytes alone', async () => {
    const bytes = Buffer.from('{"n":1}');
    const response = new BufferedResponse(bytes, 200, 'OK', RAW) as unknown as Response;
    const copy = response.clone();
    new Uint8Array(await response.arrayBuffer()).fill(0x20);
    expect(await copy.json()).toEqual({ n: 1 });
    expect(bytes.toString()).toBe('{"n":1}');
  });
});
