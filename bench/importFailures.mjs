/**
 * Which failed `import()`s Node lets a second `import()` retry (bench/README.md, "A module that
 * fails to load"): for an ES module and a CommonJS one in a temp directory, each failure is made,
 * its cause removed, and the file imported again. Prints, per case, the two outcomes and whether
 * the second error is the first one's very object (Node's cached job).
 *
 *   bash -c 'ulimit -n 64; node bench/importFailures.mjs'   (EMFILE needs the low limit)
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = mkdtempSync(join(tmpdir(), 'import-failures-'));
const outcome = async (url) =>
  import(url).then(
    () => 'ok',
    (error) => error,
  );

async function twice(label, file, fail, fix) {
  fail();
  const first = await outcome(pathToFileURL(file).href);
  fix();
  const second = await outcome(pathToFileURL(file).href);
  const name = (o) => (o === 'ok' ? 'loads' : `fails (${o.code ?? o.name})`);
  console.log(`${label}: ${name(first)}, then ${name(second)}${second === 'ok' ? '' : `, same object: ${first === second}`}`);
}

try {
  for (const kind of ['esm', 'cjs']) {
    const dir = join(root, kind);
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: kind === 'esm' ? 'module' : 'commonjs' }));
    const file = (name) => join(dir, name);
    const value = kind === 'esm' ? 'export default 1;' : 'module.exports = 1;';
    await twice(
      `${kind} entry missing, then written`,
      file('missing.js'),
      () => {},
      () => writeFileSync(file('missing.js'), value),
    );
    await twice(
      `${kind} entry a directory, then a file`,
      file('dir.js'),
      () => mkdirSync(file('dir.js')),
      () => {
        rmSync(file('dir.js'), { recursive: true });
        writeFileSync(file('dir.js'), value);
      },
    );
    const fds = [];
    await twice(
      `${kind} EMFILE reading the entry`,
      file('emfile.js'),
      () => {
        writeFileSync(file('emfile.js'), value);
        try {
          for (;;) fds.push(openSync('/dev/null', 'r'));
        } catch {}
      },
      () => {
        for (const fd of fds.splice(0)) closeSync(fd);
      },
    );
    await twice(
      `${kind} syntax error, then fixed`,
      file('syntax.js'),
      () => writeFileSync(file('syntax.js'), kind === 'esm' ? 'export default (' : 'module.exports = ('),
      () => writeFileSync(file('syntax.js'), value),
    );
    await twice(
      `${kind} threw while evaluating, then would not`,
      file('throws.js'),
      () => {
        writeFileSync(file('throws.js'), `if (!globalThis.fixed${kind}) throw new Error('not ready'); ${value}`);
      },
      () => {
        globalThis[`fixed${kind}`] = true;
      },
    );
    await twice(
      `${kind} a file it imports missing, then written`,
      file('parent.js'),
      () => {
        writeFileSync(file('parent.js'), kind === 'esm' ? 'import d from "./child.js"; export default d;' : 'module.exports = require("./child.js");');
      },
      () => writeFileSync(file('child.js'), value),
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
