import { describe, expect, it } from 'vitest';
import { failures, finishedResources, isSettled, succeeded } from '../../../generator/deploy/stack-events.ts';
import type { EventFacts } from '../../../generator/deploy/stack-events.ts';

// What CloudFormation reports for a creation that fails on one resource and rolls back (oldest
// first), in the shape DescribeStackEvents returns: moto runs change sets synchronously and never
// produces it.
const ROLLED_BACK: EventFacts[] = [
  { LogicalResourceId: 'orders', ResourceType: 'AWS::CloudFormation::Stack', ResourceStatus: 'CREATE_IN_PROGRESS', ResourceStatusReason: 'User Initiated' },
  { LogicalResourceId: 'FunctionRole', ResourceType: 'AWS::IAM::Role', ResourceStatus: 'CREATE_IN_PROGRESS' },
  { LogicalResourceId: 'OrdersQueue', ResourceType: 'AWS::SQS::Queue', ResourceStatus: 'CREATE_IN_PROGRESS' },
  { LogicalResourceId: 'OrdersQueue', ResourceType: 'AWS::SQS::Queue', ResourceStatus: 'CREATE_COMPLETE' },
  { LogicalResourceId: 'FunctionRole', ResourceType: 'AWS::IAM::Role', ResourceStatus: 'CREATE_FAILED', ResourceStatusReason: 'Policy contains a statement with one or more invalid principals' },
  { LogicalResourceId: 'orders', ResourceType: 'AWS::CloudFormation::Stack', ResourceStatus: 'ROLLBACK_IN_PROGRESS', ResourceStatusReason: 'The following resource(s) failed to create: [FunctionRole].' },
  { LogicalResourceId: 'OrdersQueue', ResourceType: 'AWS::SQS::Queue', ResourceStatus: 'DELETE_FAILED', ResourceStatusReason: 'Access denied' },
  { LogicalResourceId: 'orders', ResourceType: 'AWS::CloudFormation::Stack', ResourceStatus: 'ROLLBACK_FAILED' },
];

describe('reading stack events', () => {
  it('lists every failed resource with its reason, cause first', () => {
    expect(failures(ROLLED_BACK)).toEqual([
      { logicalId: 'FunctionRole', type: 'AWS::IAM::Role', status: 'CREATE_FAILED', reason: 'Policy contains a statement with one or more invalid principals' },
      { logicalId: 'OrdersQueue', type: 'AWS::SQS::Queue', status: 'DELETE_FAILED', reason: 'Access denied' },
      { logicalId: 'orders', type: 'AWS::CloudFormation::Stack', status: 'ROLLBACK_FAILED', reason: 'no reason given' },
    ]);
  });

  it('counts resources that finished, once each, and not the stack itself', () => {
    const done: EventFacts[] = [...ROLLED_BACK, { LogicalResourceId: 'OrdersQueue', ResourceType: 'AWS::SQS::Queue', ResourceStatus: 'DELETE_COMPLETE' }, { LogicalResourceId: 'orders', ResourceType: 'AWS::CloudFormation::Stack', ResourceStatus: 'ROLLBACK_COMPLETE' }];

    expect(finishedResources(done)).toBe(1);
  });

  it.each([
    ['CREATE_COMPLETE', true, true],
    ['UPDATE_COMPLETE', true, true],
    ['IMPORT_COMPLETE', true, true],
    ['ROLLBACK_COMPLETE', true, false],
    ['UPDATE_ROLLBACK_COMPLETE', true, false],
    ['CREATE_FAILED', true, false],
    ['ROLLBACK_FAILED', true, false],
    ['UPDATE_ROLLBACK_FAILED', true, false],
    ['DELETE_COMPLETE', true, false],
    ['REVIEW_IN_PROGRESS', false, false],
    ['CREATE_IN_PROGRESS', false, false],
    ['UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', false, false],
    ['UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', false, false],
  ])('a stack in %s has settled: %s, and succeeded: %s', (status, settled, good) => {
    expect(isSettled(status)).toBe(settled);
    expect(isSettled(status) && succeeded(status)).toBe(good);
  });
});
