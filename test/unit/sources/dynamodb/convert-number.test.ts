import { describe, expect, it } from 'vitest';
import { convertDynamoDbNumber } from '../../../../engine/sources/dynamodb/convert-number.ts';

describe('convertDynamoDbNumber', () => {
  it.each([
    ['123', 123],
    ['-42', -42],
    ['0.1', 0.1],
    ['123.45', 123.45],
    ['1E+3', 1000],
    ['1e-7', 1e-7],
    ['9007199254740991', 9007199254740991],
    ['-9007199254740991', -9007199254740991],
  ])('returns %s as a number because nothing is lost', (text, expected) => {
    expect(convertDynamoDbNumber(text)).toBe(expected);
  });

  it.each([
    ['12345678901234567890'],
    ['9007199254740993'],
    ['-9007199254740993'],
    ['0.12345678901234567890123'],
    ['3.141592653589793238462643383279'],
    ['1E+400'],
    ['1E-400'],
  ])('keeps %s as its exact decimal string because a double would change it', (text) => {
    expect(convertDynamoDbNumber(text)).toBe(text);
  });

  it('keeps 2^53 as a string although a double holds it, so every integer beyond the safe range is a string', () => {
    expect(convertDynamoDbNumber('9007199254740992')).toBe('9007199254740992');
  });

  it('returns negative zero as 0', () => {
    expect(Object.is(convertDynamoDbNumber('-0'), 0)).toBe(true);
  });

  it('treats trailing zeros of the fraction as the same value', () => {
    expect(convertDynamoDbNumber('1.500')).toBe(1.5);
  });

  it.each([['abc'], [''], ['1.2.3'], [' 1'], ['0x10'], ['Infinity'], ['NaN']])('throws for %j, which is not a number', (text) => {
    expect(() => convertDynamoDbNumber(text)).toThrow('is not a number');
  });
});
