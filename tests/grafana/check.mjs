// Checks that a Grafana dashboard (default: deploy/grafana/hls-swarm.json) is a dashboard model, by
// Grafana's own types: the JSON becomes the object literal of a `const dashboard: Dashboard` (the
// Classic model's type from @grafana/schema) and TypeScript checks it strictly, excess properties
// included. Prints every error with its line; exit code 1 on any.
// Usage: node tests/grafana/check.mjs [DASHBOARD.json]   (after `npm ci --prefix tests/grafana`)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const file = resolve(process.argv[2] ?? join(here, '../../deploy/grafana/hls-swarm.json'));
const text = readFileSync(file, 'utf8');
try {
  JSON.parse(text);
} catch (e) {
  console.error(`${file}: not JSON: ${e.message}`);
  process.exit(1);
}

// Beside node_modules, so that the import resolves; removed afterwards.
const work = mkdtempSync(join(here, '.check-'));
const source = join(work, 'dashboard.ts');
// One line before the JSON: an error on line N of the .ts file is on line N - 1 of the dashboard.
writeFileSync(source, `import type { Dashboard } from '@grafana/schema';\nexport const dashboard: Dashboard = ${text};\n`);
let failed = false;
try {
  const tsc = join(here, 'node_modules/typescript/bin/tsc');
  const options = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution',
    'nodenext', '--skipLibCheck', '--pretty', 'false'];
  execFileSync(process.execPath, [tsc, ...options, source], { stdio: ['ignore', 'pipe', 'pipe'] });
} catch (e) {
  failed = true;
  const out = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  for (const line of out.split('\n').filter((l) => l.trim())) {
    const m = line.match(/^.*dashboard\.ts\((\d+),(\d+)\): (.*)$/);
    console.error(m ? `${file}:${Number(m[1]) - 1}:${m[2]}: ${m[3]}` : line);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failed) {
  process.exit(1);
}
console.log(`${file}: ok, a Grafana dashboard model (@grafana/schema Dashboard)`);
