import { describe, expect, it } from 'vitest';
import { stackParameters } from '../../../generator/deploy/stack-parameters.ts';
import { keyUnder } from '../../../generator/deploy/upload-code.ts';

const DECLARED = { OutBucket: {}, Prefix: { Default: 'orders' }, RedshiftSecret: {} };

describe('stackParameters', () => {
  it.each([
    ['the template name', 'OutBucket'],
    ['the spec name', 'out_bucket'],
    ['a kebab-case name', 'out-bucket'],
  ])('matches a parameter given by %s', (_, name) => {
    const parameters = stackParameters(DECLARED, new Map([[name, 'b'], ['redshift_secret', 's']]), undefined);

    expect(parameters).toEqual([
      { ParameterKey: 'OutBucket', ParameterValue: 'b' },
      { ParameterKey: 'RedshiftSecret', ParameterValue: 's' },
    ]);
  });

  it('leaves a parameter with a default to its default on a new stack', () => {
    const parameters = stackParameters(DECLARED, new Map([['out_bucket', 'b'], ['redshift_secret', 's']]), undefined);

    expect(parameters.map((parameter) => parameter.ParameterKey)).not.toContain('Prefix');
  });

  it('keeps the previous value of every parameter not given on an update, defaults included', () => {
    const parameters = stackParameters(DECLARED, new Map([['prefix', 'returns']]), new Set(['OutBucket', 'Prefix', 'RedshiftSecret']));

    expect(parameters).toEqual([
      { ParameterKey: 'OutBucket', UsePreviousValue: true },
      { ParameterKey: 'Prefix', ParameterValue: 'returns' },
      { ParameterKey: 'RedshiftSecret', UsePreviousValue: true },
    ]);
  });

  it('refuses names the template does not have, listing the ones it has', () => {
    expect(() => stackParameters(DECLARED, new Map([['out_buckett', 'b']]), undefined)).toThrow('the template has no parameter out_buckett; it has OutBucket, Prefix, RedshiftSecret');
  });

  it('refuses to create a stack with a parameter that has neither a value nor a default, naming each', () => {
    expect(() => stackParameters(DECLARED, new Map(), undefined)).toThrow('give a value to --parameter OutBucket=<value>, --parameter RedshiftSecret=<value>: the template has no default for them');
  });

  it('asks for a parameter the updated template adds without a default', () => {
    expect(() => stackParameters(DECLARED, new Map(), new Set(['OutBucket']))).toThrow('give a value to --parameter RedshiftSecret=<value>');
  });

  it('does not take a prototype property for a declared parameter', () => {
    expect(() => stackParameters(DECLARED, new Map([['constructor', 'x']]), undefined)).toThrow('the template has no parameter constructor');
  });
});

describe('keyUnder', () => {
  it.each([
    [undefined, 'a.zip'],
    ['', 'a.zip'],
    ['functions', 'functions/a.zip'],
    ['functions/', 'functions/a.zip'],
    ['/functions/orders//', 'functions/orders/a.zip'],
  ])('puts a.zip under prefix %j at %s', (prefix, key) => {
    expect(keyUnder(prefix, 'a.zip')).toBe(key);
  });
});
