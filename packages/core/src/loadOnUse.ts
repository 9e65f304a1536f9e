/**
 * What a module loaded at its first use becomes (got and a media client, a koa-body parser):
 * made once, shared, and never kept failed (bench/README.md, "Modules a bot does not use").
 */

/**
 * Runs `load` at the first call and gives every call its promise: one load however many callers
 * wait for it, kept once it resolves. A rejection is not kept: the calls waiting for that load
 * get it, and the next call runs `load` again, so a transient failure (EMFILE, a package being
 * replaced during a deploy) fails the uses it met, not every later one.
 *
 * Node 20 keeps some import failures itself, whatever this does: a package whose entry file
 * cannot be found is looked up again at the next `import()`, but once a file was found and then
 * could not be read (EMFILE), parsed or evaluated, or a file it imports was missing, every later
 * `import()` of it rejects the same way until the process restarts (bench/README.md, "A module
 * that fails to load").
 */
export function loadOnUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    if (loading) return loading;
    // A `load` that throws instead of rejecting is a rejection too.
    const attempt = new Promise<T>((resolve) => resolve(load()));
    loading = attempt;
    attempt.catch(() => {
      if (loading === attempt) loading = undefined;
    });
    return attempt;
  };
}
