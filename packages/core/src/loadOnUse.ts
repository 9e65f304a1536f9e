/**
 * What a module loaded at its first use becomes (got and a media client, a koa-body parser):
 * made once, shared, and never kept failed (bench/README.md, "Modules a bot does not use").
 */

/**
 * Runs `load` at the first call and gives every call its promise: one load however many callers
 * wait for it, kept once it resolves. A rejection is not kept: the calls waiting for that load
 * get it, and the next call runs `load` again, so a transient failure (a package directory
 * being replaced during a deploy) fails the uses it met, not every later one.
 *
 * Node 20 keeps some import failures itself: a package whose entry file cannot be found is
 * looked up again at the next `import()`, but once a file was found and then could not be read
 * (EMFILE), parsed or evaluated, or a file it imports was missing, every later `import()` of it
 * rejects with the very same error object until the process restarts (bench/README.md, "A module
 * that fails to load"). A load that rejects with the same object as the one before says so: its
 * error is a new one whose message ends with what to do, the original as `cause`.
 */
export function loadOnUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  let lastError: unknown;
  return () => {
    if (loading) return loading;
    // A `load` that throws instead of rejecting is a rejection too.
    const attempt: Promise<T> = new Promise<T>((resolve) => resolve(load())).catch((error: unknown) => {
      if (loading === attempt) loading = undefined;
      const again = error === lastError;
      lastError = error;
      if (!again) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`${reason} (the same error as the last try: Node keeps a module that failed to load this way until the process restarts)`, { cause: error });
    });
    loading = attempt;
    return attempt;
  };
}
