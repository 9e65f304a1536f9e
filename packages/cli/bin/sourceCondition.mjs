// Module hook for running the wxbot repository's sources (see wxbot.mjs): resolves with the
// @wxbot/source condition, which every package's exports map points at its src/*.ts.
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, '@wxbot/source'] });
}
