import { describe, expect, it } from 'vitest';
import { formatSize, sizeInBytes } from '../../../engine/spec/size.ts';

describe('sizeInBytes', () => {
  it.each([
    [1048576, 1048576],
    ['512B', 512],
    ['1KB', 1000],
    ['1KiB', 1024],
    ['64MiB', 64 * 1024 ** 2],
    ['1.5GB', 1.5e9],
    ['4.35MB', 4_350_000],
    ['0.1KiB', 102],
    ['0.9B', 0],
    ['1GiB', 1024 ** 3],
  ])('reads %j as %d bytes', (size, bytes) => {
    expect(sizeInBytes(size)).toBe(bytes);
  });

  it.each([['64 MiB'], ['64mb'], ['1TB'], ['MiB'], [1.5], ['-1B'], [null]])('does not read %j', (size) => {
    expect(sizeInBytes(size)).toBeUndefined();
  });

  it('reads an absurd size as a number beyond any bound rather than failing', () => {
    expect(sizeInBytes('99999999999999999999GiB')).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
  });
});

describe('formatSize', () => {
  it.each([
    [1024, '1KiB'],
    [1000, '1KB'],
    [268435456, '256MiB'],
    [1500, '1500B'],
    [1, '1B'],
  ])('writes %d as %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});
