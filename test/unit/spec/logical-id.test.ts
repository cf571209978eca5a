import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../../engine/spec/load.ts';
import { logicalIdOf } from '../../../engine/spec/logical-id.ts';
import { validateLoadedSpec } from '../../../engine/spec/validate.ts';

// Ids and parameter names reach CloudFormation logical ids in CamelCase (ADR 0041); validate
// refuses two that would meet there, so that a spec it accepts also generates.

function diagnostics(text: string): string[] {
  const loaded = loadSpec('spec.yaml', Buffer.from(text));
  if (!loaded.ok) throw new Error(loaded.diagnostics[0]!.message);
  return validateLoadedSpec(loaded.spec, { exists: () => false, read: () => undefined }).map((d) => `${d.line}:${d.column} ${d.code}: ${d.message}`);
}

const SINK = 'sinks:\n  archive: { type: s3, inputs: [a_1], bucket: acme-archive, key: k/ }\n';

describe('logical ids of spec ids', () => {
  it.each([
    ['clicks', 'Clicks'],
    ['clicks_raw', 'ClicksRaw'],
    ['a_1', 'A1'],
    ['redshift_secret', 'RedshiftSecret'],
  ])('%s becomes %s', (id, form) => {
    expect(logicalIdOf(id)).toBe(form);
  });

  it('refuses a source and a sink whose ids differ only by an underscore before a digit', () => {
    const found = diagnostics(`version: 1\nname: demo\nsources:\n  a_1: { type: kinesis, stream: orders }\nsinks:\n  a1: { type: s3, inputs: [a_1], bucket: acme-archive, key: k/ }\n`);

    expect(found).toEqual(['6:3 logical-id-collision: id `a1` and id `a_1` both become A1 in the generated template\'s logical ids; rename one of them']);
  });

  it('refuses two parameters that meet in one logical id', () => {
    const found = diagnostics(`version: 1\nname: demo\nparameters:\n  level_1: { type: string }\n  level1: { type: string }\nsources:\n  a_1: { type: kinesis, stream: orders }\n${SINK}`);

    expect(found).toEqual(['5:3 logical-id-collision: parameter `level1` and parameter `level_1` both become Level1 in the generated template\'s logical ids; rename one of them']);
  });

  it('lets a parameter and a component share a name, and transforms take any id', () => {
    const found = diagnostics(
      `version: 1\nname: demo\nparameters:\n  a_1: { type: string, default: x }\nsources:\n  a_1: { type: kinesis, stream: orders }\ntransforms:\n  a1: { inputs: [a_1], steps: [{ drop: [x] }] }\nsinks:\n  archive: { type: s3, inputs: [a1], bucket: acme-archive, key: k/ }\n`,
    );

    expect(found.filter((line) => line.includes('logical-id-collision'))).toEqual([]);
  });
});
