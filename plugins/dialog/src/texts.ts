import { defineCatalog } from '@wxbot/core';

/** What dialogs say on their own; a bot overrides them as `dialog.cancelled`, …. */
export const dialogTexts = defineCatalog('dialog', {
  'zh-CN': {
    cancelled: '已退出「{title}」。',
    timedOut: '「{title}」等待回复超时，已结束。需要的话请重新开始。',
    invalid: '输入有误，请重新输入。',
    tooManyAttempts: '多次输入有误，已退出「{title}」。',
    busy: '您正在进行「{title}」：请先回答上面的问题，或回复“取消”退出。',
  },
  en: {
    cancelled: 'Left "{title}".',
    timedOut: '"{title}" waited too long for an answer and has ended. Start it again if you need to.',
    invalid: 'That does not look right. Please try again.',
    tooManyAttempts: 'Too many invalid answers: left "{title}".',
    busy: 'You are in "{title}": please answer the question above, or reply "cancel" to leave.',
  },
});
