/**
 * Deletion in a linear-probing table without tombstones (backward shift), the test both of the
 * callback dedup's tables use (Marks' index, Claims): after a hole at `hole`, the entry of the
 * same probe run at `at`, whose home slot is `home`, moves back into the hole unless its home
 * lies cyclically in (hole, at] (it would then be found before the hole no longer).
 */
export function movesIntoHole(home: number, hole: number, at: number): boolean {
  return hole <= at ? home <= hole || home > at : home <= hole && home > at;
}
