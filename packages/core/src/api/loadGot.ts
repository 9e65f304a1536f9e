import { loadOnUse } from '../loadOnUse.ts';

/**
 * got, loaded at its first use. Only rare calls take it (the API client's media/get and
 * media/upload, the AI bot's response_url posts and media downloads), and with its dependencies
 * it is ~1.5 MiB of the resting heap of every bot that makes none (bench/README.md, "Modules a
 * bot does not use"). Every caller shares the one import; one that failed is tried again at the
 * next call (see loadOnUse for the failures Node itself keeps).
 */
export const loadGot: () => Promise<typeof import('got')> = loadOnUse(() => import('got'));
