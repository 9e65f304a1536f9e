import { parseCommand, USAGE_EXIT, UsageError } from './usage.ts';
import { CHECK_USAGE, KEYGEN_USAGE, QUEUE_USAGE, SIMULATE_USAGE, START_USAGE, USAGE, WORKER_USAGE } from './usageTexts.ts';

interface Command {
  readonly usage: string;
  run(args: string[]): Promise<number>;
}

// Each command is loaded when run: `--help` and wrong usage answer at once.
const COMMANDS: Record<string, Command> = {
  start: { usage: START_USAGE, run: async (args) => (await import('./start.ts')).start(args) },
  simulate: { usage: SIMULATE_USAGE, run: async (args) => (await import('./simulate.ts')).simulate(args) },
  check: { usage: CHECK_USAGE, run: async (args) => (await import('./check.ts')).check(args) },
  keygen: { usage: KEYGEN_USAGE, run: keygen },
  worker: { usage: WORKER_USAGE, run: async (args) => (await import('./worker.ts')).worker(args) },
  queue: { usage: QUEUE_USAGE, run: async (args) => (await import('./queue.ts')).queue(args) },
};

/**
 * Commands people guess that wxbot has not, and where what they want is. `console`: the agent
 * console is a page of the running bot, not a command.
 */
const GUESSES: Record<string, string> = {
  console:
    'the agent console is a web page of the running bot: start it (`npm start` or `wxbot start`) and open the "agent console" link it prints (/agent/, with AGENT_TOKEN or dev mode); to talk to the bot as a WeChat user, run `wxbot simulate -i --fake-api` in another terminal',
};

/** The CLI entry: returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name = 'help', ...rest] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0];
    if (topic === undefined) {
      console.log(USAGE);
      return 0;
    }
    const command = COMMANDS[topic];
    if (!command) return usageError(`unknown command "${topic}"`, USAGE);
    console.log(command.usage);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) return usageError(`unknown command "${name}"${Object.hasOwn(GUESSES, name) ? `: ${GUESSES[name]}` : ''}`, USAGE);
  const options = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (options.includes('--help') || options.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  const verbose = rest.includes('--verbose');
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) return usageError(`${name}: ${error.message}`, command.usage);
    // Start-up errors (a wrong plugin option, a bad key, a taken port) are for people: no stack
    // unless asked for.
    const { describeError } = await import('./describeError.ts');
    console.error(describeError(error, { verbose }));
    return 1;
  }
}

function usageError(message: string, usage: string): number {
  console.error(`wxbot ${message}\n\n${usage}`);
  return USAGE_EXIT;
}

async function keygen(args: string[]): Promise<number> {
  if (parseCommand(args, {}).values.help) {
    console.log(KEYGEN_USAGE);
    return 0;
  }
  const { generateEncodingAESKey, generateToken } = await import('@wxbot/core');
  console.log(`Token:          ${generateToken()}\nEncodingAESKey: ${generateEncodingAESKey()}`);
  return 0;
}
