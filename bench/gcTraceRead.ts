/**
 * Reads a trace bench/gcTrace.ts kept: a server's stdout with V8's `--trace-gc-nvp
 * --trace-gc-verbose --trace-incremental-marking` lines and bench/gcTracePreload.mjs's `@@` lines
 * between them, in the order they were written. Pure (text in, figures out), so a trace kept
 * from an earlier run reads the same as a fresh one.
 *
 * - Only the server's own isolate: tsx's module loader runs in a worker with a heap of its own,
 *   traced too (its lines carry another `[pid:isolate]`, among them "memory reducer"
 *   mark-compacts a reader could take for the server's); the server's is the one with the most GCs.
 * - Phases (start, warm-up, idle, window, after) from the preload's markers, by their place in
 *   the file: V8 flushes each trace line as it prints it, so a GC belongs to the phase whose
 *   marker came before it. No inference from timing.
 */

/** What a phase marker or the preload's periodic line said of the process's memory. */
export interface PreloadLine {
  /** ms on the isolate's clock (the preload's `performance.now()` less V8's start: V8's trace clock, near enough to keep file order). */
  ms: number;
  text: string;
}

/** One GC of the server's isolate: its nvp line and the heap statistics --trace-gc-verbose printed after it. */
export interface Gc {
  /** ms since the isolate began (V8's own clock). */
  ms: number;
  /** V8's kind: `s` scavenge, `mc` mark-compact (`mmc`, `ms` for other collectors). */
  kind: string;
  fields: Map<string, string>;
  /** The new space's capacity (one semi-space) after the GC, in KB. */
  capacityKB: number;
  /** The old generation (old, code and large object spaces) after the GC, in KB. */
  oldKB: number;
  /** External memory (ArrayBuffers' backing stores, mostly) V8 was told of, after the GC, in KB. */
  externalKB: number;
}

/** What a trace holds, in file order: the server's GCs, its marking starts and the preload's lines. */
export type TraceEvent =
  | { type: 'gc'; phase: string; gc: Gc }
  | {
      type: 'marking';
      phase: string;
      ms: number;
      /** V8's reason, e.g. `task`, `external memory pressure`, `memory reducer`. */
      reason: string;
      text: string;
      /** The server's last GC before it (V8 counts external memory from the last mark-compact: see `externalSinceMarkCompactKB`). */
      lastGc?: Gc;
      /**
       * External memory grown from the last mark-compact to the last GC before this start, KB. V8
       * 11.3 counts it against the old generation's headroom (the slack it prints leaves it out).
       */
      externalSinceMarkCompactKB?: number;
      /** The preload's last line before it (in the window at most 250 ms old): ArrayBuffers, spaces. */
      lastState?: PreloadLine;
    }
  | { type: 'preload'; phase: string; line: PreloadLine };

/** What the scavenges and mark-compacts of one phase did. */
export interface PhaseRow {
  phase: string;
  scavenges: number;
  /** Bytes the scavenges left alive in the young generation, summed. */
  survived: number;
  /** Bytes the scavenges moved to the old generation, summed. */
  promoted: number;
  /** The new space's capacities (KB) the phase went through, in order. */
  capacities: number[];
  markCompacts: number;
  /** The reasons of the phase's marking starts, in order. */
  reasons: string[];
}

export interface Trace {
  /** Phases in the order their markers came, each with the ms on the isolate's clock it began. */
  phases: { name: string; ms: number }[];
  events: TraceEvent[];
  rows: PhaseRow[];
  /** The driver's line at the end (messages, req/s of the window), when it wrote one. */
  result?: Record<string, number>;
}

/** The phase markers the preload writes (`@@ <ms> ms PHASE <name>: <state>`). */
export const PHASES = ['warm-up', 'idle', 'window', 'after'] as const;

/** `name=value` pairs of an nvp line. */
function nvp(text: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const m of text.matchAll(/(\w+)=(\S+)/g)) pairs.set(m[1]!, m[2]!);
  return pairs;
}

/**
 * The trace of `text` (a whole file). Throws when it has no phase markers: a trace of another
 * tool (those of gcTrace.ts and gcPhases.ts before they were merged are not read).
 */
export function readTrace(text: string): Trace {
  const lines = text.split('\n');
  // First pass: which isolate is the server's (the most GC lines).
  const gcCounts = new Map<string, number>();
  for (const line of lines) {
    const isolate = /^\[\d+:(0x[0-9a-f]+)\]\s+\d+ ms: pause=/.exec(line)?.[1];
    if (isolate) gcCounts.set(isolate, (gcCounts.get(isolate) ?? 0) + 1);
  }
  const main = [...gcCounts].sort((a, b) => b[1] - a[1])[0]?.[0];
  const trace: Trace = { phases: [{ name: 'start', ms: 0 }], events: [], rows: [] };
  let phase = 'start';
  let last: Gc | undefined;
  let lastMarkCompact: Gc | undefined;
  let lastState: PreloadLine | undefined;
  for (const line of lines) {
    const preload = /^@@ (-?\d+) ms (.*)$/.exec(line);
    if (preload) {
      const at = { ms: Number(preload[1]), text: preload[2]! };
      const marker = /^PHASE ([\w-]+):/.exec(at.text)?.[1];
      const result = /^RESULT (\{.*\})$/.exec(at.text)?.[1];
      if (result) {
        trace.result = JSON.parse(result) as Record<string, number>;
        continue;
      }
      if (marker) {
        phase = marker;
        trace.phases.push({ name: marker, ms: at.ms });
      }
      lastState = at;
      trace.events.push({ type: 'preload', phase, line: at });
      continue;
    }
    const m = /^\[\d+:(0x[0-9a-f]+)\]\s+(?:(\d+) ms: )?(.*)$/.exec(line);
    if (!m || m[1] !== main) continue;
    const [ms, text] = [Number(m[2]), m[3]!];
    if (text.startsWith('pause=')) {
      const fields = nvp(text);
      last = { ms, kind: fields.get('gc') ?? '?', fields, capacityKB: 0, oldKB: 0, externalKB: 0 };
      if (last.kind !== 's') lastMarkCompact = last;
      trace.events.push({ type: 'gc', phase, gc: last });
    } else if (m[2] === undefined) {
      // --trace-gc-verbose's heap statistics, printed right after the nvp line of their GC.
      if (!last) continue;
      const kb = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
      if (text.startsWith('New space,')) last.capacityKB = kb(/committed:\s+(\d+) KB/) / 2;
      else if (/^(Old|Code|Large object) space,/.test(text)) last.oldKB += kb(/used:\s+(\d+) KB/);
      else if (text.startsWith('External memory reported:')) last.externalKB = kb(/reported:\s+(\d+) KB/);
    } else {
      const reason = /\[IncrementalMarking\] Start \(([^)]*)\)/.exec(text)?.[1];
      if (reason === undefined) continue;
      trace.events.push({
        type: 'marking',
        phase,
        ms,
        reason,
        text,
        ...(last && { lastGc: last }),
        ...(last && lastMarkCompact && { externalSinceMarkCompactKB: last.externalKB - lastMarkCompact.externalKB }),
        ...(lastState && { lastState }),
      });
    }
  }
  if (trace.phases.length === 1) throw new Error('no phase markers: not a trace of bench/gcTrace.ts (traces of gcTrace.ts and gcPhases.ts before the merge are not read)');
  trace.rows = phaseRows(trace.phases, trace.events);
  return trace;
}

/**
 * Per phase: the scavenges (how many, what they kept), the new space's capacities, the
 * mark-compacts. Every phase has its row, one without a GC too (an idle usually has none).
 */
function phaseRows(phases: Trace['phases'], events: readonly TraceEvent[]): PhaseRow[] {
  const rows = new Map<string, PhaseRow>();
  const row = (phase: string) => {
    let r = rows.get(phase);
    if (!r) rows.set(phase, (r = { phase, scavenges: 0, survived: 0, promoted: 0, capacities: [], markCompacts: 0, reasons: [] }));
    return r;
  };
  for (const p of phases) row(p.name);
  for (const e of events) {
    if (e.type === 'marking') row(e.phase).reasons.push(e.reason);
    if (e.type !== 'gc') continue;
    const r = row(e.phase);
    if (e.gc.kind === 's') {
      r.scavenges++;
      r.survived += Number(e.gc.fields.get('new_space_survived') ?? 0);
      r.promoted += Number(e.gc.fields.get('promoted') ?? 0);
    } else {
      r.markCompacts++;
    }
    if (r.capacities.at(-1) !== e.gc.capacityKB) r.capacities.push(e.gc.capacityKB);
  }
  return [...rows.values()];
}
