import { startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, ALICE, CORP, customerSays, KF_SECRET, pngImage, startKfBot, type KfBot } from './helpers.ts';

let api: FakeWeChatApi;
let kf: KfBot;
const clients: AgentClient[] = [];

beforeAll(async () => {
  api = await startFakeWeChatApi({ credentials: [{ id: CORP, secret: KF_SECRET }] });
  kf = await startKfBot(api, { maxImageBytes: 64 * 1024 });
});
afterAll(async () => {
  await kf.bot.stop();
  await api.close();
});
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

const bearer = { Authorization: `Bearer ${ALICE}` };

async function handedOff(openKfId: string, user: string): Promise<{ alice: AgentClient; id: string }> {
  const alice = await AgentClient.connect(kf.url, { token: ALICE });
  clients.push(alice);
  await alice.waitFor((e) => e.type === 'hello');
  await customerSays(api, kf, openKfId, user, '人工');
  const opened = await alice.waitFor((e) => e.type === 'conversation.opened' && (e['conversation'] as { user: string }).user === user);
  return { alice, id: (opened['conversation'] as { id: string }).id };
}

describe('images in the agent console (HTTP routes next to the page)', () => {
  it('previews an image the customer sent, to a signed-in agent only, and only media of that conversation', async () => {
    const { alice, id } = await handedOff('wk-img', 'wm-photo');
    const photo = pngImage(40, 30, [200, 30, 30]);
    api.media.put('media-photo-1', { data: photo, contentType: 'image/png', fileName: 'photo.png' });
    api.media.put('media-elsewhere', { data: photo, contentType: 'image/png', fileName: 'other.png' });
    api.kf.push('wk-img', { external_userid: 'wm-photo', image: { media_id: 'media-photo-1' } });
    await kf.notify('wk-img');
    await alice.waitFor((e) => e.type === 'message.in' && (e['message'] as { mediaId?: string }).mediaId === 'media-photo-1');

    const url = `${kf.url}/agent/media/media-photo-1?conversation=${encodeURIComponent(id)}`;
    const ok = await fetch(url, { headers: bearer });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/png');
    expect(ok.headers.get('content-security-policy')).toBe("default-src 'none'");
    expect(Buffer.from(await ok.arrayBuffer()).equals(photo)).toBe(true);

    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(`${url}&token=${ALICE}`)).status).toBe(401); // never a token in a URL
    // A media id not recorded in that conversation is not served, even if WeChat has it.
    expect((await fetch(`${kf.url}/agent/media/media-elsewhere?conversation=${encodeURIComponent(id)}`, { headers: bearer })).status).toBe(404);
  });

  it('an agent uploads a PNG and sends it: kf/send_msg carries the image; too big or not an image is refused', async () => {
    const { alice, id } = await handedOff('wk-img-send', 'wm-gets-photo');
    const picture = pngImage(60, 40, [7, 193, 96]);
    const upload = await fetch(`${kf.url}/agent/media?conversation=${encodeURIComponent(id)}`, {
      method: 'POST',
      headers: { ...bearer, 'Content-Type': 'image/png' },
      body: picture,
    });
    expect(upload.status).toBe(200);
    const { mediaId } = (await upload.json()) as { mediaId: string };
    expect(api.media.get(mediaId)?.data.equals(picture)).toBe(true);

    expect(await alice.request({ type: 'reply', conversationId: id, image: { mediaId } })).toMatchObject({ type: 'ack' });
    expect(api.kf.sent.filter((m) => m['touser'] === 'wm-gets-photo').at(-1)).toMatchObject({ msgtype: 'image', image: { media_id: mediaId } });
    // The agent's image is in the history, so the console previews it too.
    const sent = await alice.waitFor((e) => e.type === 'message.out' && (e['message'] as { mediaId?: string }).mediaId === mediaId);
    expect(sent['message']).toMatchObject({ from: 'agent', agent: 'alice', type: 'image' });
    expect((await fetch(`${kf.url}/agent/media/${mediaId}?conversation=${encodeURIComponent(id)}`, { headers: bearer })).status).toBe(200);

    const post = (body: Buffer, type = 'image/png', headers: Record<string, string> = bearer) =>
      fetch(`${kf.url}/agent/media?conversation=${encodeURIComponent(id)}`, { method: 'POST', headers: { ...headers, 'Content-Type': type }, body });
    expect((await post(Buffer.from('this is text, whatever the header says'), 'image/png')).status).toBe(415);
    expect((await post(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), 'image/svg+xml')).status).toBe(415);
    expect((await post(Buffer.alloc(65 * 1024, 0xff))).status).toBe(413);
    expect((await post(picture, 'image/png', {})).status).toBe(401);
  });

  it('bad tokens on the image routes count toward the same login throttle as the socket (429, token not looked at)', async () => {
    const guarded = await startKfBot(api, { loginThrottle: { maxFailures: 2, blockMs: 60_000 } });
    try {
      const url = `${guarded.url}/agent/media?conversation=x`;
      const wrong = { Authorization: 'Bearer wrong-token-0123456789abcdef' };
      expect((await fetch(url, { method: 'POST', headers: wrong, body: 'x' })).status).toBe(401);
      expect((await fetch(url, { method: 'POST', headers: wrong, body: 'x' })).status).toBe(401);
      // Blocked now: even the right token gets 429, and so does the socket.
      expect((await fetch(url, { method: 'POST', headers: bearer, body: 'x' })).status).toBe(429);
      await expect(AgentClient.connect(guarded.url, { token: ALICE })).rejects.toMatchObject({ status: 429 });
    } finally {
      await guarded.bot.stop();
    }
  });
});
