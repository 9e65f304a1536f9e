/*
 * One-line (or few-line) readable forms of what a bot answers: the passive reply XML WeChat
 * gets in the HTTP response, and the JSON bodies of active sends to the API.
 */

type Fields = Record<string, unknown>;

const isFields = (value: unknown): value is Fields => typeof value === 'object' && value !== null && !Array.isArray(value);
const str = (value: unknown): string => (typeof value === 'string' || typeof value === 'number' ? String(value) : '');
const items = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);

/** Continuation lines of a multi-line text, indented under the first. */
const indent = (text: string): string => text.replaceAll('\n', '\n    ');

/** `title — description <url>` without the parts that are empty. */
function article(title: unknown, description: unknown, url: unknown): string {
  const parts = [str(title), str(description)].filter(Boolean).join(' — ');
  return str(url) ? `${parts} <${str(url)}>` : parts;
}

/**
 * Describes a decrypted passive reply (the fields of its `<xml>`), e.g. `text: 你好`,
 * `image: media_id=…` or `news: 2 articles` followed by one line per article.
 */
export function describePassiveReply(reply: Fields): string {
  const type = str(reply['MsgType']) || '(no MsgType)';
  const media = (element: unknown) => (isFields(element) ? str(element['MediaId']) : '');
  switch (type) {
    case 'text':
      return `text: ${indent(str(reply['Content']))}`;
    case 'image':
      return `image: media_id=${media(reply['Image'])}`;
    case 'voice':
      return `voice: media_id=${media(reply['Voice'])}`;
    case 'video': {
      const video = isFields(reply['Video']) ? reply['Video'] : {};
      return `video: media_id=${str(video['MediaId'])}${str(video['Title']) ? ` title=${str(video['Title'])}` : ''}`;
    }
    case 'music': {
      const music = isFields(reply['Music']) ? reply['Music'] : {};
      return `music: ${article(music['Title'], music['Description'], music['MusicUrl'])}`;
    }
    case 'news': {
      const articles = items(isFields(reply['Articles']) ? reply['Articles']['item'] : undefined).filter(isFields);
      return newsLines(articles.map((a) => article(a['Title'], a['Description'], a['Url'])));
    }
    default: {
      const { ToUserName: _to, FromUserName: _from, CreateTime: _time, MsgType: _type, ...rest } = reply;
      return `${type}: ${JSON.stringify(rest)}`;
    }
  }
}

/**
 * Describes the body of an active send (message/custom/send, message/send, kf/send_msg…),
 * e.g. `text: 你好` or `image: media_id=…`.
 */
export function describeActiveSend(body: Fields): string {
  const type = str(body['msgtype']) || '(no msgtype)';
  const content = isFields(body[type]) ? (body[type] as Fields) : {};
  switch (type) {
    case 'text':
    case 'markdown':
      return `${type}: ${indent(str(content['content']))}`;
    case 'image':
    case 'voice':
    case 'file':
      return `${type}: media_id=${str(content['media_id'])}`;
    case 'video':
      return `video: media_id=${str(content['media_id'])}${str(content['title']) ? ` title=${str(content['title'])}` : ''}`;
    case 'music':
      return `music: ${article(content['title'], content['description'], content['musicurl'])}`;
    case 'news':
      return newsLines(
        items(content['articles'])
          .filter(isFields)
          .map((a) => article(a['title'], a['description'], a['url'])),
      );
    case 'link':
    case 'textcard':
      return `${type}: ${article(content['title'], content['desc'] ?? content['description'], content['url'])}`;
    case 'msgmenu': {
      const options = items(content['list'])
        .filter(isFields)
        .map((item) => {
          const inner = isFields(item[str(item['type'])]) ? (item[str(item['type'])] as Fields) : {};
          return `[${str(inner['content'])}]`;
        });
      return `msgmenu: ${[str(content['head_content']), options.join(' '), str(content['tail_content'])].filter(Boolean).join(' ')}`;
    }
    default:
      return `${type}: ${JSON.stringify(content)}`;
  }
}

function newsLines(articles: string[]): string {
  const head = `news: ${articles.length} article${articles.length === 1 ? '' : 's'}`;
  return [head, ...articles.map((a, i) => `    ${i + 1}. ${a}`)].join('\n');
}
