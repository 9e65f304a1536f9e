// Preloaded with `--import` into a process under test (JavaScript: it runs before tsx is
// registered). On SIGUSR2 it prints one JSON line to stderr, `{"loadedPackages":[…]}`: the
// packages under node_modules of every script V8 has parsed so far, ESM and CommonJS alike, as
// the inspector lists them (neither require.cache nor the ESM loader shows both).
import { Session } from 'node:inspector';

/** `node_modules/@scope/name/…` or `node_modules/name/…` → the package name. */
const PACKAGE = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//;

process.on('SIGUSR2', () => {
  const session = new Session();
  session.connect();
  const packages = new Set();
  // Enabling the debugger reports every script parsed until now, then each new one.
  session.on('Debugger.scriptParsed', ({ params }) => {
    const name = PACKAGE.exec(params.url)?.[1];
    if (name) packages.add(name);
  });
  session.post('Debugger.enable', () => {
    session.post('Debugger.disable', () => {
      session.disconnect();
      process.stderr.write(`${JSON.stringify({ loadedPackages: [...packages].sort() })}\n`);
    });
  });
});
