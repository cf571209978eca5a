import type { CfnValue, Contribution, GeneratorContext, IamStatement } from '../../generator/contribution.ts';
import { sinkContribution, sourceContribution } from '../../generator/registry.ts';
import { specValue } from '../../generator/substitution.ts';
import { logicalIdOf } from '../../engine/spec/logical-id.ts';
import type { ResolvedSpec } from '../../engine/spec/resolved-spec.ts';
import { applyDefaults } from '../../engine/spec/resolve.ts';
import type { Sink, Source } from '../../engine/spec/spec-types.ts';

/**
 * A `GeneratorContext` with the contract of generator/contribution.ts, for tests of the source and
 * sink modules on their own: logical ids are the CamelCase of their parts (as the assembler makes
 * them), and spec strings become CloudFormation values as in the assembler (`specValue`).
 */
export function generatorContext(spec: ResolvedSpec): GeneratorContext {
  return {
    spec,
    core: { function: 'Function', role: 'FunctionRole', logGroup: 'FunctionLogGroup' },
    logicalId: (...parts) => parts.map(logicalIdOf).join(''),
    value: specValue,
  };
}

const PLACEHOLDER_SOURCE: Source = { type: 'kinesis', stream: 'placeholder' };
const PLACEHOLDER_SINK: Sink = { type: 's3', inputs: ['placeholder'], bucket: 'placeholder', key: 'placeholder/' };

/** A pipeline `clickstream` around one source or sink, resolved with the defaults `ingest package` applies. */
export function specWith(component: { source?: Source; sink?: Sink; runtime?: Record<string, unknown>; parameters?: Record<string, unknown> }): ResolvedSpec {
  return applyDefaults({
    version: 1,
    name: 'clickstream',
    ...(component.parameters ? { parameters: component.parameters } : {}),
    ...(component.runtime ? { runtime: component.runtime } : {}),
    sources: { [component.source ? 'orders' : 'placeholder']: component.source ?? PLACEHOLDER_SOURCE },
    sinks: { [component.sink ? 'archive' : 'placeholder_sink']: component.sink ?? PLACEHOLDER_SINK },
  });
}

/** What source `orders` (given as a user writes it) contributes, through the registry. */
export function contributionOfSource(source: Source, options: { runtime?: Record<string, unknown> } = {}): Contribution {
  const spec = specWith({ source, ...options });
  return sourceContribution('orders', spec.sources.orders!, generatorContext(spec));
}

/** What sink `archive` (given as a user writes it) contributes, through the registry. */
export function contributionOfSink(sink: Sink): Contribution {
  const spec = specWith({ sink });
  return sinkContribution('archive', spec.sinks.archive!, generatorContext(spec));
}

/** The resource of the contribution with the given logical id; fails the test when absent. */
export function resourceOf(contribution: Contribution, logicalId: string): Record<string, CfnValue> {
  const resource = contribution.resources?.[logicalId];
  if (!resource) throw new Error(`no resource ${logicalId}; resources: ${Object.keys(contribution.resources ?? {}).join(', ')}`);
  return resource.Properties ?? {};
}

/** The statement with the given Sid; fails the test when absent. */
export function statementOf(contribution: Contribution, sid: string): IamStatement {
  const statement = contribution.statements?.find((candidate) => candidate.Sid === sid);
  if (!statement) throw new Error(`no statement ${sid}; statements: ${(contribution.statements ?? []).map((candidate) => candidate.Sid).join(', ')}`);
  return statement;
}
