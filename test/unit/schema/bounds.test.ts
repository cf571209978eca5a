import { describe, expect, it } from 'vitest';
import schema from '../../../ingest.schema.json' with { type: 'json' };
import { isSizeField } from '../../../engine/spec/size.ts';

// Every number the spec gives is bounded where the runtime, the generator and AWS can take it:
// an integer field without a maximum accepts 1e308, which validates and then fails at start-up.

type Node = { [keyword: string]: unknown };

const SIZE_REF = '#/$defs/defs.size.size';
/** Numbers with no meaning to bound: a parameter's default is substituted as text into strings. */
const UNBOUNDED = new Set(['/$defs/parameter/properties/default', '/$defs/parameter/then/properties/default']);
/** The size def is bounded where it is used: each size field states its own least and greatest value. */
const SIZE_DEF = '/$defs/defs.size.size';

/** Every schema object of the composed schema that a property, item or definition holds, with its pointer and property name. */
function nodes(): { pointer: string; name: string; node: Node }[] {
  const found: { pointer: string; name: string; node: Node }[] = [];
  const visit = (node: unknown, pointer: string, name: string): void => {
    if (Array.isArray(node)) node.forEach((item, index) => visit(item, `${pointer}/${index}`, name));
    else if (node && typeof node === 'object') {
      found.push({ pointer, name, node: node as Node });
      for (const [key, child] of Object.entries(node)) {
        const parentIsPropertyMap = pointer.endsWith('/properties');
        visit(child, `${pointer}/${key}`, parentIsPropertyMap ? key : key === 'properties' ? '' : name);
      }
    }
  };
  visit(schema, '', '');
  return found;
}

const types = (node: Node) => (Array.isArray(node.type) ? node.type : [node.type]) as unknown[];

describe('numeric bounds of the schema', () => {
  const all = nodes();

  it('gives every integer and number field a minimum and a maximum an exact double holds', () => {
    const numeric = all.filter(({ node, pointer }) => (types(node).includes('integer') || types(node).includes('number')) && node.enum === undefined && node.const === undefined && !UNBOUNDED.has(pointer) && pointer !== SIZE_DEF);

    const unbounded = numeric.filter(({ node }) => typeof node.minimum !== 'number' || typeof node.maximum !== 'number' || !Number.isSafeInteger(node.maximum) || !Number.isSafeInteger(node.minimum));

    expect(numeric.length).toBeGreaterThan(20);
    expect(unbounded.map(({ pointer }) => pointer)).toEqual([]);
  });

  it('gives every size field a least size of at least one byte', () => {
    const sizes = all.filter(({ node }) => node.$ref === SIZE_REF);

    expect(sizes.length).toBeGreaterThanOrEqual(5);
    expect(sizes.filter(({ node }) => !((node.minimum as number) >= 1)).map(({ pointer }) => pointer)).toEqual([]);
  });

  it('names exactly the size fields with the `_bytes` suffix validation converts', () => {
    const properties = all.filter(({ pointer }) => /\/properties\/[^/]+$/.test(pointer));

    const mismatched = properties.filter(({ name, node }) => isSizeField(name) !== (node.$ref === SIZE_REF));

    expect(mismatched.map(({ pointer }) => pointer)).toEqual([]);
  });

  it('states each size field bound in its description', () => {
    const sizes = all.filter(({ node }) => node.$ref === SIZE_REF);

    expect(sizes.filter(({ node }) => !/\d+(?:B|KiB|MiB|GiB)\b/.test(String(node.description))).map(({ pointer }) => pointer)).toEqual([]);
  });
});
