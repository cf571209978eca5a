import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../../engine/spec/load.ts';
import { resolveSpec } from '../../../engine/spec/resolve.ts';
import { runSpecTests } from '../../../engine/testing/run-spec-tests.ts';

const noFiles = { exists: () => false, read: () => undefined };

async function run(yaml: string) {
  const loaded = loadSpec('spec.yaml', Buffer.from(yaml));
  if (!loaded.ok) throw new Error(loaded.diagnostics[0]!.message);
  return runSpecTests(loaded.spec, resolveSpec(loaded.spec.value), noFiles, '/nowhere/spec.yaml');
}

const PIPELINE = `version: 1
name: orders
sources:
  orders: { type: kinesis, stream: orders }
transforms:
  clean:
    inputs: [orders]
    steps:
      - filter: "record.status != 'test'"
      - rename: { uid: user_id }
      - cast: { amount: double }
sinks:
  archive: { type: s3, inputs: [clean], bucket: archive, key: "orders/" }
  big: { type: redshift, inputs: [clean], where: "record.amount > 100.0", connection: { workgroup: analytics, database: dev }, table: public.big, columns: [user_id, amount], iam_role: "arn:aws:iam::123456789012:role/Copy", staging: { bucket: staging } }
tests:
`;

describe('runSpecTests', () => {
  it('passes a case whose sinks receive exactly the expected records', async () => {
    const [result] = await run(`${PIPELINE}  - name: renames and routes
    given:
      orders: [{ uid: 1, amount: "500", status: paid }, { uid: 2, amount: 5, status: test }]
    expect:
      archive: [{ user_id: 1, amount: 500, status: paid }]
      big: [{ user_id: 1, amount: 500, status: paid }]
    expect_filtered: 1
`);

    expect(result).toEqual({ name: 'renames and routes', line: 16, failures: [] });
  });

  it('fails a case with a diff naming the sink when records differ', async () => {
    const [result] = await run(`${PIPELINE}  - name: wrong expectation
    given:
      orders: [{ uid: 1, amount: 5, status: paid }]
    expect:
      archive: [{ user_id: 2, amount: 5, status: paid }]
`);

    expect(result?.failures).toHaveLength(1);
    expect(result?.failures[0]).toContain('sink `archive` received other records than expected');
    expect(result?.failures[0]).toMatch(/- +"user_id": 2/);
    expect(result?.failures[0]).toMatch(/\+ +"user_id": 1/);
  });

  it('matches subsets in order when expect_subset is set', async () => {
    const [result] = await run(`${PIPELINE}  - name: subset
    given:
      orders: [{ uid: 1, amount: 5, status: paid, extra: x }]
    expect_subset: true
    expect:
      archive: [{ user_id: 1 }]
`);

    expect(result?.failures).toEqual([]);
  });

  it('fails a case that produces dead letters it did not expect, and says why they happened', async () => {
    const [result] = await run(`${PIPELINE}  - name: surprise
    given:
      orders: [{ uid: 1, amount: lots, status: paid }]
`);

    expect(result?.failures[0]).toContain('dead letters differ');
    expect(result?.failures[0]).toContain('transform transform-error at clean');
  });

  it('passes a case whose expected dead letters occurred', async () => {
    const [result] = await run(`${PIPELINE}  - name: bad amount
    given:
      orders: [{ uid: 1, amount: lots, status: paid }]
    expect_dead_letter: [{ stage: transform, code: transform-error }]
`);

    expect(result?.failures).toEqual([]);
  });

  it('counts filtered records against expect_filtered', async () => {
    const [result] = await run(`${PIPELINE}  - name: filtered count
    given:
      orders: [{ uid: 1, amount: 1, status: test }]
    expect_filtered: 2
`);

    expect(result?.failures).toEqual(['expected 2 filtered records, got 1']);
  });
});

describe('runSpecTests dead-letter expectations', () => {
  it('matches an expected dead letter that leaves out the code', async () => {
    const [result] = await run(`${PIPELINE}  - name: any code
    given:
      orders: [{ uid: 1, amount: lots, status: paid }]
    expect_dead_letter: [{ stage: transform }]
`);

    expect(result?.failures).toEqual([]);
  });

  it('fails when the dead letter comes from another component than expected', async () => {
    const [result] = await run(`${PIPELINE}  - name: wrong component
    given:
      orders: [{ uid: 1, amount: lots, status: paid }]
    expect_dead_letter: [{ stage: transform, code: transform-error, component: archive }]
`);

    expect(result?.failures[0]).toContain('dead letters differ');
  });
});
