/**
 * got, loaded at its first use. Only rare calls take it (the API client's media/get and
 * media/upload, the AI bot's response_url posts and media downloads), and with its dependencies
 * it is ~1.5 MiB of the resting heap of every bot that makes none (bench/README.md, "Modules a
 * bot does not use"). Every caller shares the one import.
 */
type GotModule = typeof import('got');

let loading: Promise<GotModule> | undefined;

/** The `got` module, imported the first time it is asked for. */
export function loadGot(): Promise<GotModule> {
  loading ??= import('got');
  return loading;
}
