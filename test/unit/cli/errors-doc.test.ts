import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { SPEC_CODES } from '../../../engine/errors.ts';

// docs/errors.md is where users look a code up: it must list every code `ingest validate` can
// report, and every code a record can fail with, and no other.

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const RECORD_SECTION = '## Record failure codes';
const [specPart = '', recordPart = ''] = doc.split(RECORD_SECTION);

/** The string literals of the `FailureCode` union, read from its source as the compiler sees it. */
function failureCodes(): string[] {
  const path = new URL('../../../engine/pipeline/record.ts', import.meta.url);
  const source = ts.createSourceFile('record.ts', readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const alias = source.statements.find((statement): statement is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(statement) && statement.name.text === 'FailureCode');
  if (alias === undefined || !ts.isUnionTypeNode(alias.type)) throw new Error('FailureCode is no longer a union of string literals in engine/pipeline/record.ts');
  return alias.type.types.map((member) => {
    if (!ts.isLiteralTypeNode(member) || !ts.isStringLiteral(member.literal)) throw new Error(`FailureCode member ${member.getText()} is not a string literal`);
    return member.literal.text;
  });
}

describe('docs/errors.md', () => {
  it('lists exactly the codes of SPEC_CODES, in the same order', () => {
    const listed = [...specPart.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((match) => match[1]);

    expect(listed).toEqual(Object.keys(SPEC_CODES));
  });

  it('explains every spec code it lists', () => {
    const rows = [...specPart.matchAll(/^\| `([a-z0-9-]+)` \| (.*) \|$/gm)];

    expect(rows.filter(([, , meaning]) => (meaning ?? '').trim().length < 10).map(([, code]) => code)).toEqual([]);
  });

  it('lists exactly the record failure codes of FailureCode, in the same order', () => {
    const listed = [...recordPart.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((match) => match[1]);

    expect(recordPart).not.toBe('');
    expect(listed).toEqual(failureCodes());
  });

  it('gives every record failure code its stages and an explanation', () => {
    const rows = [...recordPart.matchAll(/^\| `([a-z0-9-]+)` \| ([a-z, ]+) \| (.*) \|$/gm)];

    expect(rows.map(([, code]) => code)).toEqual(failureCodes());
    expect(rows.filter(([, , stages, meaning]) => !(stages ?? '').split(', ').every((stage) => ['decode', 'transform', 'sink'].includes(stage)) || (meaning ?? '').trim().length < 10).map(([, code]) => code)).toEqual([]);
  });
});
