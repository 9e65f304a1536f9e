import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createProject } from './createProject.ts';
import { packedTarballs } from './packedTarballs.ts';

const USAGE = `create-wxbot — start a new wxbot project

Usage:
  npm create wxbot@latest DIR     (or: npx create-wxbot DIR)

Writes DIR/ with bot.config.ts, a sample plugin and its test, .env.example and a README.`;

/** The `create-wxbot` command: returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [dir, ...rest] = args;
  if (dir === '--help' || dir === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (!dir || rest.length > 0 || dir.startsWith('-')) {
    console.error(`create-wxbot: give one directory for the new project\n\n${USAGE}`);
    return 2;
  }
  try {
    const project = await createProject(dir);
    const where = relative(process.cwd(), project.dir) || '.';
    const tarballs = tarballsFor(project.dir);
    const install = tarballs
      ? `  npm install ${tarballs.join(' ')}   # the @wxbot packages packed beside this create-wxbot (not on npm yet)
  npm start                    # a bot in dev mode on made-up credentials (and an agent console link)`
      : '  npm install && npm start     # a bot in dev mode on made-up credentials (and an agent console link)';
    console.log(`Created ${project.name} in ${project.dir}:\n${project.files.map((f) => `  ${f}`).join('\n')}

Next:
  cd ${where}
${install}
  npx wxbot simulate 你好       # in another terminal: talk to it as WeChat would
  npm test                     # the sample plugin's test
`);
    return 0;
  } catch (error) {
    console.error(`create-wxbot: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

/** The tarballs of the new project's @wxbot dependencies, when create-wxbot ran from one of them. */
function tarballsFor(dir: string): string[] | undefined {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  const wxbot = Object.entries({ ...manifest['dependencies'], ...manifest['devDependencies'] }).filter(([name]) => name.startsWith('@wxbot/'));
  const version = wxbot[0]?.[1].replace(/^\^/, '');
  if (!version) return undefined;
  return packedTarballs(
    fileURLToPath(new URL('..', import.meta.url)),
    wxbot.map(([name]) => name),
    version,
  );
}
