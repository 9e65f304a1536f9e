import { describe, expect, it } from 'vitest';
import { InFlightList, type InFlightLink } from '../src/delivery/inFlightList.ts';

class Run implements InFlightLink<Run> {
  inFlightPrevious: Run | undefined = undefined;
  inFlightNext: Run | undefined = undefined;
  inFlight = false;
  constructor(readonly name: string) {}
}

const names = (list: InFlightList<Run>) => [...list].map((run) => run.name);

describe('InFlightList', () => {
  it('lists its members oldest first and counts them', () => {
    const list = new InFlightList<Run>();
    const [a, b, c] = [new Run('a'), new Run('b'), new Run('c')];
    list.add(a);
    list.add(b);
    list.add(c);
    expect(names(list)).toEqual(['a', 'b', 'c']);
    expect(list.size).toBe(3);
  });

  it('removes the oldest, the newest and one in the middle, and takes new members after', () => {
    const list = new InFlightList<Run>();
    const runs = ['a', 'b', 'c', 'd', 'e'].map((name) => new Run(name));
    for (const run of runs) list.add(run);
    list.delete(runs[2]!);
    expect(names(list)).toEqual(['a', 'b', 'd', 'e']);
    list.delete(runs[0]!);
    expect(names(list)).toEqual(['b', 'd', 'e']);
    list.delete(runs[4]!);
    expect(names(list)).toEqual(['b', 'd']);
    const f = new Run('f');
    list.add(f);
    expect(names(list)).toEqual(['b', 'd', 'f']);
    list.delete(runs[1]!);
    list.delete(runs[3]!);
    list.delete(f);
    expect(names(list)).toEqual([]);
    expect(list.size).toBe(0);
    list.add(runs[0]!);
    expect(names(list)).toEqual(['a']);
  });

  it('ignores a second add or delete of one member, and a delete of one never added', () => {
    const list = new InFlightList<Run>();
    const [a, b] = [new Run('a'), new Run('b')];
    list.add(a);
    list.add(a);
    list.delete(b);
    expect(names(list)).toEqual(['a']);
    expect(list.size).toBe(1);
    list.delete(a);
    list.delete(a);
    expect(list.size).toBe(0);
    expect(names(list)).toEqual([]);
  });

  it('leaves a removed member with no links, so it keeps none of the others alive', () => {
    const list = new InFlightList<Run>();
    const runs = ['a', 'b', 'c'].map((name) => new Run(name));
    for (const run of runs) list.add(run);
    list.delete(runs[1]!);
    expect(runs[1]).toMatchObject({ inFlightPrevious: undefined, inFlightNext: undefined, inFlight: false });
  });

  it('goes on past a member removed while the loop is at it', () => {
    const list = new InFlightList<Run>();
    const runs = ['a', 'b', 'c'].map((name) => new Run(name));
    for (const run of runs) list.add(run);
    const seen: string[] = [];
    for (const run of list) {
      seen.push(run.name);
      list.delete(run);
    }
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(list.size).toBe(0);
  });
});
