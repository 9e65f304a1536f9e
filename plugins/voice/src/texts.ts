import { defineCatalog } from '@wxbot/core';

/** What the voice plugin says on its own; a bot overrides them as `voice.apology`, `voice.echo`, or with the options. */
export const voiceTexts = defineCatalog('voice', {
  'zh-CN': {
    apology: '抱歉，没听清您的语音，请再说一遍或发文字。',
    echo: '识别结果: {text}',
  },
  en: {
    apology: 'Sorry, I could not make out your voice message. Please say it again or type it.',
    echo: 'I heard: {text}',
  },
});
