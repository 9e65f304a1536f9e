/**
 * A rule file as a live source: its last good content, reloaded when the file changes.
 */
import type { Logger } from '@wxbot/core';
import { parseRuleFileText, readRuleFileText, validateRuleFile, type RuleFileKind } from './ruleFile.ts';
import type { RuleFileContent } from './schema.ts';
import { watchForChanges } from './watch.ts';

const EMPTY: RuleFileContent = { rules: [], faq: [] };

export interface RuleSourceOptions {
  file: string;
  /** What a bare top-level list in the file is. */
  kind: RuleFileKind;
  log: Logger;
  /** Called after new content replaced the old. */
  onUpdate: () => void;
}

/**
 * Holds the last content of a rule file that loaded. A reload that fails (unreadable,
 * unparsable, invalid, a bad regex) logs an error naming the file and keeps what was there;
 * a reload whose text did not change does nothing. Reloads never overlap: a change that
 * arrives during one is read once it is done.
 */
export class RuleSource {
  readonly file: string;
  #content: RuleFileContent = EMPTY;
  #lastText: string | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopWatching: (() => void) | undefined;
  readonly #options: RuleSourceOptions;

  constructor(options: RuleSourceOptions) {
    this.#options = options;
    this.file = options.file;
  }

  /** The last good content (empty until a load succeeds). */
  get content(): RuleFileContent {
    return this.#content;
  }

  /** Loads the file now; resolves when done (successful or not: failures are logged). */
  reload(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#loadOnce();
        } while (this.#again);
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  /** Starts watching the file; reloads are debounced by `debounceMs`. */
  watch(debounceMs: number): void {
    this.#stopWatching ??= watchForChanges(this.file, () => void this.reload(), { debounceMs });
  }

  /** Stops watching and waits for a reload in progress. */
  async close(): Promise<void> {
    this.#stopWatching?.();
    this.#stopWatching = undefined;
    await this.#running;
  }

  async #loadOnce(): Promise<void> {
    const { file, kind, log } = this.#options;
    try {
      const text = await readRuleFileText(file);
      if (text === this.#lastText) return;
      const content = validateRuleFile(file, parseRuleFileText(file, text), kind);
      this.#content = content;
      this.#lastText = text;
      log.info({ file, rules: content.rules.length, faq: content.faq.length }, `loaded rule file ${file} (${content.rules.length} rules, ${content.faq.length} FAQ entries)`);
      this.#options.onUpdate();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const kept = this.#lastText === undefined ? 'no rules from it until it is fixed' : 'keeping the previous rules';
      log.error({ file, err: error }, `cannot load rule file ${message}; ${kept}`);
    }
  }
}
