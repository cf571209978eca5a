import { describe, expect, it } from 'vitest';
import { InvalidAttributeValueError, unmarshallImage } from '../../../../engine/sources/dynamodb/unmarshall-image.ts';

function problemOf(image: unknown): string {
  try {
    unmarshallImage(image, 'NewImage');
  } catch (error) {
    if (error instanceof InvalidAttributeValueError) return error.message;
    throw error;
  }
  throw new Error('expected an InvalidAttributeValueError');
}

describe('unmarshallImage', () => {
  it('turns a nested map and list into plain objects and arrays', () => {
    const image = { order: { M: { lines: { L: [{ M: { sku: { S: 'A1' }, qty: { N: '2' } } }] } } } };

    expect(unmarshallImage(image, 'NewImage')).toEqual({ order: { lines: [{ sku: 'A1', qty: 2 }] } });
  });

  it('encodes a binary value given as bytes to base64', () => {
    expect(unmarshallImage({ blob: { B: Uint8Array.of(0, 1, 42, 65) } }, 'NewImage')).toEqual({ blob: 'AAEqQQ==' });
  });

  it('keeps a number set element beyond 2^53 as a string', () => {
    expect(unmarshallImage({ ids: { NS: ['1', '12345678901234567890'] } }, 'NewImage')).toEqual({ ids: [1, '12345678901234567890'] });
  });

  it('rejects an image that is not a map', () => {
    expect(problemOf([])).toBe('NewImage is not a map of attributes');
  });

  it('rejects an AttributeValue with an unknown type', () => {
    expect(problemOf({ a: { X: '1' } })).toBe('NewImage.a has unknown type "X"');
  });

  it('rejects an AttributeValue with several types', () => {
    expect(problemOf({ a: { S: 'x', N: '1' } })).toBe('NewImage.a has several types (S, N)');
  });

  it('rejects a number that is not a decimal', () => {
    expect(problemOf({ a: { N: 'twelve' } })).toBe('NewImage.a has N "twelve" that is not a number');
  });

  it('rejects a number set with a non-number element', () => {
    expect(problemOf({ a: { NS: ['1', 'x'] } })).toBe('NewImage.a has NS that is not a list of numbers');
  });

  it('rejects binary that is not base64', () => {
    expect(problemOf({ a: { B: 'not base64!' } })).toBe('NewImage.a has B that is not base64');
  });

  it('rejects NULL that is not true', () => {
    expect(problemOf({ a: { NULL: false } })).toBe('NewImage.a has NULL that is not true');
  });

  it('rejects a string attribute holding a number', () => {
    expect(problemOf({ a: { S: 5 } })).toBe('NewImage.a has S that is not a string');
  });

  it('names the path of a bad value deep inside maps and lists', () => {
    expect(problemOf({ a: { M: { b: { L: [{ S: 'ok' }, { M: { c: { SS: [1] } } }] } } } })).toBe('NewImage.a.b[1].c has SS that is not a list of strings');
  });
});
