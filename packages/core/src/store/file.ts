import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { owned } from './owned.ts';
import { LocalPubSub } from './pubsub.ts';
import type { LockRelease, Store, Subscription } from './types.ts';

/** Where a `FileStore` keeps its data: one JSON file. */
export interface FileStoreOptions {
  /** The JSON file holding the data. Created (with its directory) on the first write. */
  path: string;
}

interface Entry {
  value: string;
  /** Epoch milliseconds after which the entry reads as absent; undefined = never. */
  expiresAt: number | undefined;
}

/** On-disk shape. Entries are tuples, not an object keyed by store key, so a key such as `__proto__` is plain data. */
interface FileData {
  version: 1;
  entries: [key: string, value: string, expiresAt: number | null][];
}

/**
 * Store kept in one JSON file, so data such as WeChat Customer Service sync cursors survives a
 * restart without a server.
 *
 * - **One process owns a file.** The data lives in memory and the file is rewritten from it;
 *   `setIfAbsent` and `lock` are atomic within the process only. Two processes on one path
 *   will overwrite each other's writes: use `RedisStore` to share state.
 * - **Crash-safe writes.** Each write goes to a temporary file, is fsynced, then renamed over
 *   the old file, so the file is always either the old or the new version, never half of one.
 * - **Coalesced writes.** Mutations that land while a write is in flight share the next one;
 *   a mutating call resolves once a write including its change is on disk.
 * - **TTLs.** Expired keys read as absent, are dropped from memory when seen and are left
 *   out of every write.
 * - **Small data.** The whole file is rewritten on each write: fine for cursors, tokens and
 *   locks, not for millions of keys (keep high-volume dedup marks in MemoryStore or Redis).
 */
export class FileStore implements Store {
  readonly #path: string;
  readonly #entries = new Map<string, Entry>();
  #loaded: Promise<void> | undefined;
  /** The file was read (or found absent): `#load()` has nothing left to wait for. */
  #ready = false;
  /** Tail of the write chain; never rejects, so one failed write does not block later ones. */
  #writing: Promise<void> = Promise.resolve();
  /** The queued write that has not started yet; later mutations join it instead of queuing another. */
  #queued: Promise<void> | undefined;
  readonly #pubsub = new LocalPubSub();

  constructor(options: FileStoreOptions) {
    this.#path = options.path;
  }

  /** The file this store reads and writes. */
  get path(): string {
    return this.#path;
  }

  // Once loaded, every call works at once instead of after a tick (a hand-off state file is
  // read for every message); all of them alike, so calls still take effect in call order.
  async get(key: string): Promise<string | undefined> {
    if (!this.#ready) await this.#load();
    return this.#live(key)?.value;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (!this.#ready) await this.#load();
    this.#entries.set(owned(key), entryOf(value, ttlMs));
    await this.#persist();
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    if (!this.#ready) await this.#load();
    // No await between the check and the set: this is what makes it atomic within the process.
    if (this.#live(key)) return false;
    this.#entries.set(owned(key), entryOf(value, ttlMs));
    await this.#persist();
    return true;
  }

  async delete(key: string): Promise<void> {
    if (!this.#ready) await this.#load();
    if (this.#entries.delete(key)) await this.#persist();
  }

  async lock(key: string, ttlMs: number): Promise<LockRelease | undefined> {
    const owner = randomUUID();
    if (!(await this.setIfAbsent(key, owner, ttlMs))) return undefined;
    const release = async () => {
      // Compare before deleting: after expiry the key may belong to another holder.
      if (this.#live(key)?.value !== owner) return;
      this.#entries.delete(key);
      await this.#persist();
    };
    const renew = async (ms: number) => {
      if (this.#live(key)?.value !== owner) return false;
      this.#entries.set(key, entryOf(owner, ms));
      await this.#persist();
      return true;
    };
    return Object.assign(release, { renew });
  }

  /** Delivers to this store's subscribers in this process (one process owns the file). */
  publish(topic: string, message: string): Promise<void> {
    return this.#pubsub.publish(topic, message);
  }

  subscribe(topic: string, listener: (message: string) => void): Subscription {
    return this.#pubsub.subscribe(topic, listener);
  }

  /** Waits for pending writes. The store stays usable; there is nothing else to release. */
  async close(): Promise<void> {
    await this.#writing;
  }

  /** The entry for `key` if it has not expired; an expired one is dropped on the way. */
  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #load(): Promise<void> {
    this.#loaded ??= this.#read().then(() => {
      this.#ready = true;
    });
    return this.#loaded;
  }

  async #read(): Promise<void> {
    await this.#removeStaleTemps();
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new Error(`FileStore: cannot read ${this.#path}: ${(error as Error).message}`, { cause: error });
    }
    // Refuse a file we cannot parse rather than start empty and overwrite it: losing sync
    // cursors silently is worse than failing loudly. Atomic writes mean we never produce one.
    let data: FileData;
    try {
      data = JSON.parse(text) as FileData;
      if (data.version !== 1 || !Array.isArray(data.entries)) throw new Error('unknown format');
    } catch (error) {
      throw new Error(`FileStore: ${this.#path} is not a wxbot store file: ${(error as Error).message}`, { cause: error });
    }
    const now = Date.now();
    for (const [key, value, expiresAt] of data.entries) {
      if (expiresAt !== null && expiresAt <= now) continue;
      this.#entries.set(key, { value, expiresAt: expiresAt ?? undefined });
    }
  }

  /**
   * Deletes temp files a killed writer left behind (`<file>.<pid>.<uuid>.tmp` of a pid that
   * no longer runs): kill -9 between open and rename leaves one each time. A live process's
   * temp file is left alone. Failures only cost disk space: never fatal.
   */
  async #removeStaleTemps(): Promise<void> {
    const dir = dirname(this.#path);
    const prefix = `${basename(this.#path)}.`;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
      const pid = Number(name.slice(prefix.length).split('.')[0]);
      if (!Number.isInteger(pid) || pid <= 0 || (pid !== process.pid && isRunning(pid))) continue;
      await rm(join(dir, name), { force: true }).catch(() => undefined);
    }
  }

  /**
   * Resolves once a write that includes every mutation made so far is on disk. The snapshot
   * is taken when the write starts, so all callers that queued behind one write share it.
   */
  #persist(): Promise<void> {
    if (this.#queued) return this.#queued;
    const write = this.#writing.then(() => {
      this.#queued = undefined;
      return this.#write();
    });
    this.#queued = write;
    this.#writing = write.catch(() => undefined);
    return write;
  }

  async #write(): Promise<void> {
    const now = Date.now();
    const entries: FileData['entries'] = [];
    for (const [key, { value, expiresAt }] of this.#entries) {
      if (expiresAt !== undefined && expiresAt <= now) this.#entries.delete(key);
      else entries.push([key, value, expiresAt ?? null]);
    }
    const data: FileData = { version: 1, entries };
    // A unique temp name, so a stray second process cannot clobber our half-written file.
    const temp = `${this.#path}.${process.pid}.${randomUUID()}.tmp`;
    try {
      await mkdir(dirname(this.#path), { recursive: true });
      // Owner-only: the store may hold access tokens.
      const handle = await open(temp, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify(data));
        // Flush to disk before the rename, or a power loss could leave the new name pointing
        // at an empty file.
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.#path);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new Error(`FileStore: cannot write ${this.#path}: ${(error as Error).message}`, { cause: error });
    }
  }
}

/** Whether a process with this pid runs (EPERM: it does, under another user). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function entryOf(value: string, ttlMs: number | undefined): Entry {
  // Same rule as MemoryStore: a missing or zero TTL means no expiry.
  // Copied, as MemoryStore does: a value cut from a message must not keep the message alive.
  return { value: owned(value), expiresAt: ttlMs ? Date.now() + ttlMs : undefined };
}
