import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as core from '@wxbot/core';
import * as delivery from '@wxbot/core/delivery';
import * as protocol from '@wxbot/core/protocol';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Every published entry point: core's three tiers and each package's and plugin's index. */
const ENTRIES = [
  'packages/core/src/index.ts',
  'packages/core/src/protocol.ts',
  'packages/core/src/delivery.ts',
  ...readdirSync(join(root, 'packages'))
    .filter((p) => p !== 'core')
    .map((p) => `packages/${p}/src/index.ts`),
  ...readdirSync(join(root, 'plugins')).map((p) => `plugins/${p}/src/index.ts`),
].filter((entry) => existsSync(join(root, entry)));
const src = (entry: string) => join(root, entry);

/** Every name an entry point exports, with whether its declaration carries a TSDoc comment. */
function documentation(): Map<string, { name: string; documented: boolean }[]> {
  const program = ts.createProgram(ENTRIES.map(src), {
    allowImportingTsExtensions: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['@wxbot/source'],
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const result = new Map<string, { name: string; documented: boolean }[]>();
  expect(ENTRIES.length).toBeGreaterThan(10);
  for (const entry of ENTRIES) {
    const file = program.getSourceFile(src(entry));
    const moduleSymbol = file && checker.getSymbolAtLocation(file);
    if (!moduleSymbol) throw new Error(`no module symbol for ${entry}`);
    result.set(
      entry,
      checker.getExportsOfModule(moduleSymbol).map((symbol) => {
        const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
        return { name: symbol.name, documented: ts.displayPartsToString(target.getDocumentationComment(checker)).trim().length > 0 };
      }),
    );
  }
  return result;
}

describe('public API tiers', () => {
  it('@wxbot/core is what a bot author writes with; protocol and delivery internals stay out of it', () => {
    for (const name of [
      'createBot',
      'defineConfig',
      'definePlugin',
      'officialAccount',
      'wecomKf',
      'replies',
      'MemoryStore',
      'FileStore',
      'Composer',
      'session',
      'WeChatApiError',
    ]) {
      expect(core, name).toHaveProperty(name);
    }
    for (const name of [
      'PassiveWindow',
      'CallbackDedup',
      'KfSyncer',
      'cdata',
      'customSendBody',
      'createHttpApp',
      'createHttpServer',
      'Metrics',
      'WXBizMsgCrypt',
      'parseXml',
      'planDelivery',
    ]) {
      expect(core, name).not.toHaveProperty(name);
    }
  });

  it('@wxbot/core/protocol holds the wire protocol; @wxbot/core/delivery the engine extension points', () => {
    for (const name of [
      'WXBizMsgCrypt',
      'sortedSha1',
      'parseXml',
      'cdata',
      'messageFromXml',
      'messageFromKf',
      'passiveReplyXml',
      'customSendBody',
      'kfSendBody',
      'WeChatApiClient',
      'BaseChannel',
    ]) {
      expect(protocol, name).toHaveProperty(name);
    }
    for (const name of ['planDelivery', 'sendNow', 'InProcessOutbox', 'sendIdOf']) expect(delivery, name).toHaveProperty(name);
    for (const internal of ['PassiveWindow', 'CallbackDedup', 'KfSyncer', 'createHttpApp']) {
      expect(protocol, internal).not.toHaveProperty(internal);
      expect(delivery, internal).not.toHaveProperty(internal);
    }
  });

  it('every exported name of every entry point has TSDoc', { timeout: 60_000 }, () => {
    const undocumented = [...documentation()].flatMap(([entry, names]) => names.filter((n) => !n.documented).map((n) => `${entry}: ${n.name}`));
    expect(undocumented).toEqual([]);
  });
});
