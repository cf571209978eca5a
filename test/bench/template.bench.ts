/**
 * Template costs, as Ingest pays them. Prints figures; asserts nothing.
 *
 *   node scripts/bench.mjs test/bench/template.bench.ts [records]
 *
 * Renders: the templates of the heavy runtime case (a `template` step's two fields and an S3 key
 * prefix) and one that needs Handlebars (`{{#each}}`), each through Handlebars as
 * `compileTemplate` ran every template before render plans (an environment of the template's
 * own, runtime setup on every call) and through `compileTemplate` now (a render plan, or
 * Handlebars with its setup done once). Checks: `checkTemplate`
 * over every template of examples/, against the code generation it used to run for each.
 * See docs/decisions/0050-specialized-templates.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { RecordValue } from '../../engine/pipeline/record.ts';
import { analyzeTemplate, routeOutputThroughPrintHelper, SourcePositions } from '../../engine/template/analyze-template.ts';
import { parseTemplate, precompileTemplate } from '../../engine/template/handlebars-engine.ts';
import { checkTemplate, compileTemplate, type TemplateContext } from '../../engine/template/index.ts';
import { specTemplateSources } from '../../engine/template/prepare-templates.ts';
import { TEMPLATE_ROOTS } from '../../engine/spec/check.ts';
import { handlebarsTemplate } from '../unit/template/handlebars-reference.ts';

const count = Number(process.argv[2] ?? 100_000);

const TEMPLATES = [
  "orders/dt={{date record.ts 'yyyy-MM-dd'}}/",
  '{{record.event_id}}-{{record.user_id}}',
  '{{upper record.status}} {{record.page}}',
  '{{#each record.tags}}{{this}}{{#unless @last}},{{/unless}}{{/each}}',
];

function makeContexts(): TemplateContext[] {
  const statuses = ['paid', 'open', 'shipped'];
  const contexts: TemplateContext[] = [];
  const meta = { source: 'orders', position: 'shard-0/1' };
  for (let index = 0; index < count; index++) {
    const record = JSON.parse(
      JSON.stringify({
        event_id: `e${index}`,
        user_id: index % 977,
        status: statuses[index % statuses.length],
        page: `/p/${index % 50}`,
        tags: index % 3 ? ['a', 'promo'] : ['b'],
        // Records of a batch span a few days.
        ts: new Date(1_764_000_000_000 + index * 3_000).toISOString(),
      }),
    ) as RecordValue;
    contexts.push({ record, meta, now: new Date(1_764_000_000_000) });
  }
  return contexts;
}

/** What checkTemplate did for every template before: the checks, then Handlebars' code generation. */
function checkThroughCodeGeneration(source: string, roots: readonly string[]): number {
  const positions = new SourcePositions(source);
  const program = parseTemplate(source);
  const { problems } = analyzeTemplate(program, positions, { roots });
  if (problems.length > 0) return problems.length;
  precompileTemplate(routeOutputThroughPrintHelper(program, positions, false));
  return 0;
}

interface Variant {
  label: string;
  run: () => unknown;
}

/** Runs the variants round-robin, `gc()` before each, and prints each one's median per operation. */
function compare(operations: number, variants: Variant[], rounds = 9): number[] {
  const collect = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  const times: number[][] = variants.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      collect();
      const start = process.hrtime.bigint();
      variant.run();
      times[variants.indexOf(variant)]!.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  return variants.map((variant, index) => {
    const sorted = times[index]!.sort((a, b) => a - b);
    const median = sorted[Math.floor(rounds / 2)]!;
    const perOperation = (median * 1e6) / operations;
    console.log(
      `  ${variant.label.padEnd(44)} ${perOperation.toFixed(0).padStart(6)} ns/op  (min ${((sorted[0]! * 1e6) / operations).toFixed(0)}, max ${((sorted[rounds - 1]! * 1e6) / operations).toFixed(0)})`,
    );
    return perOperation;
  });
}

const contexts = makeContexts();
console.log(`node ${process.version}, ${count} records`);

for (const source of TEMPLATES) {
  console.log(`render ${source}`);
  const before = handlebarsTemplate(source);
  const now = compileTemplate(source);
  const renderAll = (render: (context: TemplateContext) => string) => () => {
    let length = 0;
    for (const context of contexts) length += render(context).length;
    return length;
  };
  if (renderAll(before)() !== renderAll(now)()) throw new Error(`${source}: the two renders differ`);
  const [handlebars, current] = compare(count, [
    { label: 'Handlebars, as before', run: renderAll(before) },
    { label: 'compileTemplate', run: renderAll(now) },
  ]) as [number, number];
  console.log(`  ratio compileTemplate/before ${(current / handlebars).toFixed(2)}x`);
}

const examples = join(import.meta.dirname, '../../examples');
const specTemplates = readdirSync(examples)
  .filter((name) => name.endsWith('.yaml'))
  .map((name) => specTemplateSources(parse(readFileSync(join(examples, name), 'utf8'))));
const templateCount = specTemplates.reduce((total, sources) => total + sources.length, 0);
// Every example template is rendered with the roots of a record template; `now` and `stage` are common to all.
const roots = [...new Set(Object.values(TEMPLATE_ROOTS).flat())];
const checks = 200;
console.log(`check the templates of ${specTemplates.length} example specs (${templateCount} templates), ${checks} times`);
const [generating, checking] = compare(checks * specTemplates.length, [
  {
    label: 'checks, then code generation, as before',
    run: () => {
      let problems = 0;
      for (let index = 0; index < checks; index++) {
        for (const sources of specTemplates) for (const source of sources) problems += checkThroughCodeGeneration(source, roots);
      }
      return problems;
    },
  },
  {
    label: 'checkTemplate',
    run: () => {
      let problems = 0;
      for (let index = 0; index < checks; index++) {
        for (const sources of specTemplates) for (const source of sources) problems += checkTemplate(source, roots).length;
      }
      return problems;
    },
  },
], 7) as [number, number];
console.log(`  per spec: ${(generating / 1000).toFixed(1)} → ${(checking / 1000).toFixed(1)} µs (${(checking / generating).toFixed(2)}x)`);
