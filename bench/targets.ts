/**
 * Shared by the drivers that fork one process per target and alternate them pass by pass
 * (kf.ts, llm.ts): the summary of the passes, and the targets' end.
 */
import type { ChildProcess } from 'node:child_process';
import { median } from './run.ts';

/** A target process as its driver keeps it: the CPU µs per unit of each pass. */
export interface PassTarget {
  readonly name: string;
  readonly child: ChildProcess;
  readonly results: readonly number[];
}

/**
 * Prints each target's median µs CPU `per` unit (e.g. "per answer (5 × 4000)") and, for every
 * target but the first, its ratio to the first, median and pass by pass: on a busy machine only
 * same-run ratios count.
 */
export function printMedians(targets: readonly PassTarget[], per: string): void {
  const base = targets[0]!;
  for (const t of targets) {
    const ratios = t.results.map((r, i) => r / base.results[i]!);
    console.error(
      `${t.name}: median ${median(t.results).toFixed(1)} µs CPU ${per}` +
        (t === base ? '' : `, × ${base.name}: median ${median(ratios).toFixed(2)} (per pass ${ratios.map((r) => r.toFixed(2)).join(' ')})`),
    );
  }
}

/** Disconnects every target and waits for it to exit by itself (a --cpu-prof profile is written then). */
export async function endTargets(targets: readonly PassTarget[]): Promise<void> {
  await Promise.all(
    targets.map(
      (t) =>
        new Promise((ok) => {
          t.child.once('exit', ok);
          t.child.disconnect();
        }),
    ),
  );
}
