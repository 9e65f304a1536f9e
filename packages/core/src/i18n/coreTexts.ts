import { defineCatalog } from './catalog.ts';

/** What the core itself says to users: the command list and the answer to unknown commands. */
export const coreTexts = defineCatalog('core', {
  'zh-CN': {
    helpTitle: '可用命令：',
    helpLine: '/{command} — {description}',
    helpEmpty: '这里暂时没有可用的命令，直接发消息给我就好。',
    unknownCommand: '没有 /{command} 这个命令。发送 /help 查看可用命令。',
  },
  en: {
    helpTitle: 'Commands:',
    helpLine: '/{command} — {description}',
    helpEmpty: 'There are no commands here yet: just send me a message.',
    unknownCommand: 'There is no /{command} command. Send /help to see the commands.',
  },
});
