/**
 * Watching one file for changes, debounced.
 */
import { lstatSync, watch, watchFile, unwatchFile, type FSWatcher, type StatsListener } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

export interface WatchOptions {
  /** Quiet time after the last event before `onChange` runs (ms). */
  debounceMs: number;
  /** Stat interval when fs.watch is not available (ms). */
  pollMs?: number;
}

/**
 * Calls `onChange` (debounced) when `file` may have changed; returns a function that stops.
 *
 * The directory is watched, not the file: editors and deploy tools save by writing a new
 * file and renaming it over the old one, and a watch on the old file's inode would go
 * silent after the first such save. One save fires several events (truncate, write,
 * rename), hence the debounce. When the file is a symlink, as Kubernetes ConfigMap mounts
 * are (`rules.yaml -> ..data/rules.yaml`, updated by swapping the `..data` link), any event
 * in the directory counts, since the name that changes is not the file's. Where fs.watch
 * cannot be used (the directory does not exist yet, some network file systems) this falls
 * back to polling the file's mtime and size. Neither keeps the process alive.
 */
export function watchForChanges(file: string, onChange: () => void, options: WatchOptions): () => void {
  const path = resolve(file);
  const name = basename(path);
  const anyEvent = isSymlink(path);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const changed = () => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, options.debounceMs);
    timer.unref();
  };

  let stopWatching: () => void;
  try {
    const watcher: FSWatcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
      // Some platforms do not report the name; then any change in the directory counts.
      if (anyEvent || filename === null || filename === name) changed();
    });
    watcher.on('error', () => {
      // The directory went away (or the watch broke): keep going by polling.
      watcher.close();
      stopWatching = poll();
    });
    stopWatching = () => watcher.close();
  } catch {
    stopWatching = poll();
  }

  function poll(): () => void {
    const listener: StatsListener = (current, previous) => {
      if (current.mtimeMs !== previous.mtimeMs || current.size !== previous.size || current.ino !== previous.ino) changed();
    };
    watchFile(path, { interval: options.pollMs ?? 1000, persistent: false }, listener);
    return () => unwatchFile(path, listener);
  }

  return () => {
    stopped = true;
    clearTimeout(timer);
    stopWatching();
  };
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
