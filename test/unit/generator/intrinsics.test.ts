import { describe, expect, it } from 'vitest';
import { s3BucketArn, s3ObjectsArn } from '../../../generator/arns.ts';
import { simplified, sub } from '../../../generator/intrinsics.ts';

describe('sub', () => {
  it('returns the plain text when nothing is left to substitute', () => {
    expect(sub('${Name}-queue', { Name: 'orders' })).toBe('orders-queue');
  });

  it('keeps pseudo parameters for CloudFormation', () => {
    expect(sub('arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Name}', { Name: 'orders' })).toEqual({ 'Fn::Sub': 'arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:orders' });
  });

  it('escapes ${ in a literal value so that it stays literal', () => {
    expect(sub('${Prefix}', { Prefix: 'a${b}' })).toEqual({ 'Fn::Sub': 'a${!b}' });
  });

  it('merges a one-argument Fn::Sub and a Ref into the text', () => {
    expect(sub('${Bucket}/${Prefix}', { Bucket: { Ref: 'RawBucket' }, Prefix: { 'Fn::Sub': '${Stage}/in' } })).toEqual({ 'Fn::Sub': '${RawBucket}/${Stage}/in' });
  });

  it('passes any other value as a variable', () => {
    const name = { 'Fn::Select': [1, { 'Fn::Split': ['/', { Ref: 'Arn' }] }] };

    expect(sub('stream/${Name}', { Name: name })).toEqual({ 'Fn::Sub': ['stream/${Name}', { Name: name }] });
  });
});

describe('simplified', () => {
  it.each([
    [{ 'Fn::Sub': '${RawBucket}' }, { Ref: 'RawBucket' }],
    [{ 'Fn::Sub': '${Stage}/in' }, { 'Fn::Sub': '${Stage}/in' }],
    ['acme-raw', 'acme-raw'],
  ])('turns %j into %j', (value, expected) => {
    expect(simplified(value)).toEqual(expected);
  });
});

describe('S3 ARNs', () => {
  it.each([
    ['acme', 'in/', 'arn:${AWS::Partition}:s3:::acme/in/*'],
    ['acme', '', 'arn:${AWS::Partition}:s3:::acme/*'],
    ['acme', 'what?/*/', 'arn:${AWS::Partition}:s3:::acme/what${!?}/${!*}/*'],
  ])('name the objects of %s under %j', (bucket, prefix, arn) => {
    expect(s3ObjectsArn(bucket, prefix)).toEqual({ 'Fn::Sub': arn });
  });

  it('name a bucket given as a parameter', () => {
    expect(s3BucketArn({ 'Fn::Sub': '${RawBucket}' })).toEqual({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${RawBucket}' });
  });
});
