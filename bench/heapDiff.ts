/**
 * What a process held in one heap snapshot and no longer in a later one of the same process:
 * V8 keeps an object's snapshot id across snapshots once the first is taken (it then tracks
 * objects as the GC moves them), so the objects of snapshot A whose ids are gone from snapshot B
 * died in between. Taken under a steady load a few seconds apart, that is what the process
 * holds for a while and lets go: the requests in flight and whatever holds requests past their
 * answer; what a scavenge copies, by kind and by what held it. bench/held.ts takes the snapshots.
 * V8's own code, maps, code-dependency lists and native / synthetic nodes are left out: their ids
 * do not hold, or they are not the program's objects (property arrays and elements are counted).
 */

/** The parts of a `.heapsnapshot` file (its JSON) this reads. */
export interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** A group of the objects that died: how many, their own bytes. */
export interface Row {
  what: string;
  count: number;
  bytes: number;
}

export interface Gone {
  count: number;
  bytes: number;
  /** By node type and constructor (or function) name, most bytes first. */
  byKind: Row[];
  /**
   * By what held them: each object that died with no dead object holding it (a root of what died),
   * labelled with its kind and the live object and property that held it, with the bytes of the
   * dead objects reachable from it (each counted once, under the first root that reaches it).
   */
  byHolder: Row[];
}

const LEFT_OUT = new Set(['code', 'native', 'synthetic', 'object shape']);
/** Holders looked through to the object that has them. */
const internal = (type: string, name: string) => type === 'hidden' || (type === 'array' && name.startsWith('('));

/** Indexed access to one snapshot's flat arrays. */
class Graph {
  readonly count: number;
  readonly #s: HeapSnapshot;
  readonly #nf: number;
  readonly #ef: number;
  readonly #field: Record<'type' | 'name' | 'id' | 'size' | 'edges' | 'edgeType' | 'edgeName' | 'to', number>;
  /** Index of each node's first edge field in `edges`, and one past the last node's. */
  readonly firstEdge: Int32Array;

  constructor(s: HeapSnapshot) {
    const { node_fields, edge_fields } = s.snapshot.meta;
    this.#s = s;
    this.#nf = node_fields.length;
    this.#ef = edge_fields.length;
    this.#field = {
      type: node_fields.indexOf('type'),
      name: node_fields.indexOf('name'),
      id: node_fields.indexOf('id'),
      size: node_fields.indexOf('self_size'),
      edges: node_fields.indexOf('edge_count'),
      edgeType: edge_fields.indexOf('type'),
      edgeName: edge_fields.indexOf('name_or_index'),
      to: edge_fields.indexOf('to_node'),
    };
    this.count = s.nodes.length / this.#nf;
    this.firstEdge = new Int32Array(this.count + 1);
    for (let i = 0, e = 0; i < this.count; i++) {
      this.firstEdge[i] = e;
      e += (s.nodes[i * this.#nf + this.#field.edges] as number) * this.#ef;
    }
    this.firstEdge[this.count] = s.edges.length;
  }

  get edgeStride(): number {
    return this.#ef;
  }
  type(i: number): string {
    return this.#s.snapshot.meta.node_types[0][this.#s.nodes[i * this.#nf + this.#field.type] as number] as string;
  }
  name(i: number): string {
    return this.#s.strings[this.#s.nodes[i * this.#nf + this.#field.name] as number] as string;
  }
  id(i: number): number {
    return this.#s.nodes[i * this.#nf + this.#field.id] as number;
  }
  size(i: number): number {
    return this.#s.nodes[i * this.#nf + this.#field.size] as number;
  }
  /** The node an edge (index of its first field) points to. */
  to(e: number): number {
    return (this.#s.edges[e + this.#field.to] as number) / this.#nf;
  }
  edgeType(e: number): string {
    return this.#s.snapshot.meta.edge_types[0][this.#s.edges[e + this.#field.edgeType] as number] as string;
  }
  /** A property's name, or an element's / internal slot's index in brackets. */
  edgeName(e: number): string {
    const type = this.edgeType(e);
    const v = this.#s.edges[e + this.#field.edgeName] as number;
    return type === 'element' || type === 'hidden' ? `[${v}]` : (this.#s.strings[v] as string);
  }
  /** `type:name` (strings and numbers by type alone). */
  kind(i: number): string {
    const type = this.type(i);
    return type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' ? type : `${type}:${this.name(i).slice(0, 60)}`;
  }
}

const add = (rows: Map<string, Row>, what: string, bytes: number) => {
  const row = rows.get(what);
  if (row) {
    row.count++;
    row.bytes += bytes;
  } else rows.set(what, { what, count: 1, bytes });
};
const sorted = (rows: Map<string, Row>) => [...rows.values()].sort((a, b) => b.bytes - a.bytes);

/** The objects of `a` that `b` (a later snapshot of the same process) no longer has. */
export function gone(a: HeapSnapshot, b: HeapSnapshot): Gone {
  const g = new Graph(a);
  const later = new Graph(b);
  const kept = new Set<number>();
  for (let i = 0; i < later.count; i++) kept.add(later.id(i));
  const dead = new Uint8Array(g.count);
  const byKind = new Map<string, Row>();
  let count = 0;
  let bytes = 0;
  for (let i = 0; i < g.count; i++) {
    if (kept.has(g.id(i)) || LEFT_OUT.has(g.type(i)) || g.name(i).startsWith('system / Weak')) continue;
    dead[i] = 1;
    count++;
    bytes += g.size(i);
    add(byKind, g.kind(i), g.size(i));
  }
  // Each node's first strong retainer (the edge's index), and whether a dead node holds it.
  const holder = new Int32Array(g.count).fill(-1);
  const holderEdge = new Int32Array(g.count);
  const heldByDead = new Uint8Array(g.count);
  for (let i = 0; i < g.count; i++) {
    for (let e = g.firstEdge[i] as number; e < (g.firstEdge[i + 1] as number); e += g.edgeStride) {
      if (g.edgeType(e) === 'weak') continue;
      const to = g.to(e);
      if (dead[i] && dead[to]) heldByDead[to] = 1;
      else if (holder[to] === -1) {
        holder[to] = i;
        holderEdge[to] = e;
      }
    }
  }
  // What held a root: the live retainer and its property, through V8's internal arrays (a
  // property array, an array's elements) up to the object that has them, at most three steps.
  const heldBy = (root: number): string => {
    let path = '';
    let at = root;
    for (let step = 0; step < 3; step++) {
      const by = holder[at] as number;
      if (by < 0) return `(no strong holder)${path}`;
      path = `.${g.edgeName(holderEdge[at] as number)}${path}`;
      if (!internal(g.type(by), g.name(by))) return `${g.kind(by)}${path}`;
      at = by;
    }
    return `${g.kind(at)}…${path}`;
  };
  const reached = new Uint8Array(g.count);
  const reach = (root: number): number => {
    let sum = 0;
    const stack = [root];
    reached[root] = 1;
    while (stack.length > 0) {
      const i = stack.pop() as number;
      sum += g.size(i);
      for (let e = g.firstEdge[i] as number; e < (g.firstEdge[i + 1] as number); e += g.edgeStride) {
        const to = g.to(e);
        if (!dead[to] || reached[to] || g.edgeType(e) === 'weak') continue;
        reached[to] = 1;
        stack.push(to);
      }
    }
    return sum;
  };
  const byHolder = new Map<string, Row>();
  for (let i = 0; i < g.count; i++) if (dead[i] && !heldByDead[i]) add(byHolder, `${g.kind(i)} <- ${heldBy(i)}`, reach(i));
  // Dead objects only dead ones hold, in a cycle no root reaches.
  let cycles = 0;
  let cycleCount = 0;
  for (let i = 0; i < g.count; i++) {
    if (dead[i] && !reached[i]) {
      cycles += g.size(i);
      cycleCount++;
    }
  }
  const holders = sorted(byHolder);
  if (cycleCount > 0) holders.push({ what: '(cycles among the dead, no root)', count: cycleCount, bytes: cycles });
  return { count, bytes, byKind: sorted(byKind), byHolder: holders };
}
