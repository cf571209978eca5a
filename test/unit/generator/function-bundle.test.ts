import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { LEFT_OUT_PACKAGES } from '../../../generator/function-bundle.ts';

const require = createRequire(import.meta.url);

describe('the packages function bundles leave out', () => {
  it.each(LEFT_OUT_PACKAGES.map((left) => [left.packages.join(', '), left] as const))('each name the stand-in for %s exports is one those packages export', (_, left) => {
    const exported = new Set(left.packages.flatMap((name) => Object.keys(require(name) as object)));

    expect(left.names.filter((name) => !exported.has(name))).toEqual([]);
  });
});
