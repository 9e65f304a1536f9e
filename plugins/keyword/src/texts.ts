import { defineCatalog } from '@wxbot/core';

/** What the keyword plugin says on its own; a bot overrides them as `keyword.handoff`, …, or with the options. */
export const keywordTexts = defineCatalog('keyword', {
  'zh-CN': {
    handoff: '正在为您转接人工客服，请稍候。',
    noHuman: '抱歉，目前没有人工客服可以接待，请稍后再试或直接留言。',
    notUnderstood: '抱歉，我没听懂您的意思。',
    askAbout: '您可以问我：{topics}。',
    askHuman: '需要人工服务请回复“{word}”。',
    topicSeparator: '、',
  },
  en: {
    handoff: 'Connecting you to a human agent, please wait.',
    noHuman: 'Sorry, no human agent can take this conversation right now. Please try again later or leave a message.',
    notUnderstood: 'Sorry, I did not understand that.',
    askAbout: ' You can ask me about: {topics}.',
    askHuman: ' To talk to a person, reply "{word}".',
    topicSeparator: ', ',
  },
});
