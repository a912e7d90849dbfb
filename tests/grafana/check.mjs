// Checks that a Grafana dashboard (default: deploy/grafana/hls-swarm.json) is a Classic dashboard model
// by Grafana's own types: the JSON text becomes the object literal of a typed const and the TypeScript
// compiler (strict) checks it, excess properties included. Prints every diagnostic as
// FILE:LINE:COLUMN (lines and columns of the dashboard's JSON); exit code 1 on any, 0 and "ok" otherwise.
//
// Usage: npm ci --prefix tests/grafana && node tests/grafana/check.mjs [DASHBOARD.json]
//
// The type is `Dashboard` from the root of @grafana/schema: the Classic model (schemaVersion 39 and so
// on, the JSON that "Import dashboard" takes), generated from Grafana's dashboard kind, with the
// veneer that types panels, variables and annotations.
//
// Its string enums (a field colour's `mode`, `thresholds.mode`, a value mapping's `type`, ...) are
// TypeScript enums, which no string literal, and so no JSON text, is assignable to. The literal is
// therefore typed `AsJson<Dashboard>`: the same type with each string enum replaced by the union of
// its values (`${FieldColorModeId}` is "palette-classic" | "thresholds" | ...), which is what a
// Dashboard is once written as JSON. Nothing else changes: every other field, every required field
// and the excess-property check are the type's own, and a value that is not one of an enum's values
// still fails. Numeric enums (graphTooltip, a variable's hide/refresh/sort) are left as they are:
// TypeScript accepts their member values as number literals and rejects any other number.
//
// typescript is pinned to 6.0.x, the last release line with this compiler API (`ts.createProgram`):
// the registry's 7.x is the native compiler, whose package root exports only its version.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const file = resolve(process.argv[2] ?? join(here, '../../deploy/grafana/hls-swarm.json'));

let ts;
try {
  ts = (await import('typescript')).default;
} catch {
  console.error(`typescript is not installed: run npm ci --prefix ${here}`);
  process.exit(2);
}

let text;
try {
  text = readFileSync(file, 'utf8');
  JSON.parse(text);
} catch (e) {
  console.error(`${file}: ${e.code === 'ENOENT' ? 'no such file' : `not JSON: ${e.message}`}`);
  process.exit(1);
}

// The lines before the JSON, so that a diagnostic on line N of the .ts file is on line N - header of
// the dashboard, at the same column.
const header = [
  "import type { Dashboard } from '@grafana/schema';",
  // A string enum becomes its values; arrays and objects map through; anything else stays.
  'type AsJson<T> = T extends string ? `${T}`',
  '  : T extends number | boolean | null | undefined ? T',
  '  : T extends ReadonlyArray<infer E> ? Array<AsJson<E>>',
  '  : T extends object ? { [K in keyof T]: AsJson<T[K]> }',
  '  : T;',
  'export const dashboard: AsJson<Dashboard> =',
];
const source = `${header.join('\n')}\n${text.replace(/\s*$/, '')};\n`;

// Beside node_modules, so that '@grafana/schema' resolves as it would in a project; removed afterwards.
const work = mkdtempSync(join(here, '.check-'));
const tsFile = join(work, 'dashboard.ts');
let diagnostics;
try {
  writeFileSync(tsFile, source);
  const options = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
    skipLibCheck: true,
  };
  const program = ts.createProgram({ rootNames: [tsFile], options });
  diagnostics = ts.getPreEmitDiagnostics(program);
  // A failed import would make the type `any` and let anything through: make sure it is Grafana's.
  const resolved = program.getSourceFiles().some((f) => /[\\/]@grafana[\\/]schema[\\/]/.test(f.fileName));
  if (!resolved && diagnostics.length === 0) {
    console.error(`@grafana/schema's types were not found: run npm ci --prefix ${here}`);
    process.exit(2);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

for (const d of diagnostics) {
  const message = ts.flattenDiagnosticMessageText(d.messageText, '\n    ');
  if (d.file && d.start !== undefined) {
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    // An error on the const itself (a required top-level field missing) is the dashboard's, at 1:1.
    const where = d.file.fileName !== tsFile
      ? `${d.file.fileName}:${line + 1}:${character + 1}`
      : line < header.length
      ? `${file}:1:1`
      : `${file}:${line + 1 - header.length}:${character + 1}`;
    console.error(`${where}: error TS${d.code}: ${message}`);
  } else {
    console.error(`error TS${d.code}: ${message}`);
  }
}
if (diagnostics.length > 0) {
  console.error(`${file}: ${diagnostics.length} error(s): not a Grafana dashboard model`);
  process.exit(1);
}
console.log(`${file}: ok (a Grafana Classic dashboard model: @grafana/schema ${schemaVersion()} Dashboard, TypeScript ${ts.version} strict)`);

function schemaVersion() {
  try {
    return JSON.parse(readFileSync(join(here, 'node_modules/@grafana/schema/package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}
