import { defineCatalog } from '@wxbot/core';

/** What the LLM plugin says on its own; a bot overrides them as `llm.apology`, `llm.reset`, `llm.resetHelp` (what `/help` says of `/reset`), or with the options. */
export const llmTexts = defineCatalog('llm', {
  'zh-CN': {
    apology: '抱歉，我暂时无法回答，请稍后再试。',
    reset: '好的，之前的对话我已经忘掉了，我们重新开始吧。',
    resetHelp: '忘掉之前的对话，重新开始',
  },
  en: {
    apology: 'Sorry, I cannot answer right now. Please try again later.',
    reset: 'OK, I have forgotten our conversation so far. Let us start again.',
    resetHelp: 'Forget our conversation so far and start again',
  },
});
