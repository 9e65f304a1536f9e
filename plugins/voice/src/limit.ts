/** Runs `work` when fewer than the limit are running; the rest wait in arrival order. */
export type Limiter = <T>(work: () => Promise<T>) => Promise<T>;

/**
 * A concurrency limit: a burst of voice messages should queue, not start one ffmpeg and one
 * upload each at the same moment on a small server.
 */
export function createLimiter(max: number): Limiter {
  let running = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    running -= 1;
    const nextInLine = waiting.shift();
    if (nextInLine) {
      running += 1;
      nextInLine();
    }
  };
  return async (work) => {
    if (running < max) running += 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await work();
    } finally {
      release();
    }
  };
}
