/**
 * `npm run bench -- <name> [args]`: runs scripts/bench/<name>.ts, which prints its
 * figures as one JSON object on its last line.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, 'bench');
const [name, ...args] = process.argv.slice(2);
const available = readdirSync(benchDir)
  // util.ts holds what the benches share; it is not a bench.
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'util.ts')
  .map((f) => f.replace(/\.ts$/, ''));

if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <${available.join('|')}> [args]`);
  process.exit(2);
}
const file = join(benchDir, `${name}.ts`);
if (!existsSync(file)) process.exit(2);
const mod = (await import(pathToFileURL(file).href)) as { main: (args: string[]) => Promise<void> };
await mod.main(args);
