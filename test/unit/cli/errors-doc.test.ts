import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SPEC_CODES } from '../../../engine/errors.ts';

// docs/errors.md is where users look a code up: it must list every code `ingest validate` can
// report, and no other.

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

describe('docs/errors.md', () => {
  it('lists exactly the codes of SPEC_CODES, in the same order', () => {
    const listed = [...doc.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((match) => match[1]);

    expect(listed).toEqual(Object.keys(SPEC_CODES));
  });

  it('explains every code it lists', () => {
    const rows = [...doc.matchAll(/^\| `([a-z0-9-]+)` \| (.*) \|$/gm)];

    expect(rows.filter(([, , meaning]) => (meaning ?? '').trim().length < 10).map(([, code]) => code)).toEqual([]);
  });
});
