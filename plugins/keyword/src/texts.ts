import { defineCatalog } from '@wxbot/core';

/** What the keyword plugin says on its own; a bot overrides them as `keyword.handoff`, …, or with the options. */
export const keywordTexts = defineCatalog('keyword', {
  'zh-CN': {
    handoff: '正在为您转接人工客服，请稍候。',
    notUnderstood: '抱歉，我没听懂您的意思。',
    askAbout: '您可以问我：{topics}。',
    askHuman: '需要人工服务请回复“{word}”。',
    topicSeparator: '、',
  },
  en: {
    handoff: 'Connecting you to a human agent, please wait.',
    notUnderstood: 'Sorry, I did not understand that.',
    askAbout: ' You can ask me about: {topics}.',
    askHuman: ' To talk to a person, reply "{word}".',
    topicSeparator: ', ',
  },
});
