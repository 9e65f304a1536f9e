import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../src/index.ts';

describe('FileStore temp files', () => {
  it('removes the temp files of a killed writer at start, and leaves a live process’s alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wxbot-tmpclean-'));
    const path = join(dir, 'kf-cursors.json');
    // pid 2^22+1 is above Linux's pid_max: no process has it (a writer killed with -9).
    writeFileSync(`${path}.4194305.0b4f.tmp`, '{"half":');
    writeFileSync(`${path}.${process.ppid}.live.tmp`, '{}'); // a running process (our parent)
    writeFileSync(join(dir, 'other.json.1.tmp'), ''); // not this store's
    const store = new FileStore({ path });
    await store.set('k', 'v');
    const left = readdirSync(dir).sort();
    expect(left).toEqual(['kf-cursors.json', `kf-cursors.json.${process.ppid}.live.tmp`, 'other.json.1.tmp'].sort());
  });
});
