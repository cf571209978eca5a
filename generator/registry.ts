/**
 * The generator module of every source and sink type, in two literal lists. Their types make them
 * complete: a type the schema gains does not compile until it has a module here, and each module
 * takes the resolved config of its own type. The template assembler looks components up here and
 * never switches on a type.
 */
import type { SinkConfig, SinkType, SourceConfig, SourceType } from '../engine/spec/spec-types.ts';
import type { Contribution, GeneratorContext, SinkGenerator, SourceGenerator } from './contribution.ts';
import { postgresSinkGenerator } from './sinks/postgres.ts';
import { redshiftSinkGenerator } from './sinks/redshift.ts';
import { s3SinkGenerator } from './sinks/s3.ts';
import { searchSinkGenerator } from './sinks/search.ts';
import { dynamodbSourceGenerator } from './sources/dynamodb.ts';
import { kinesisSourceGenerator } from './sources/kinesis.ts';
import { s3SourceGenerator } from './sources/s3.ts';

export const SOURCE_GENERATORS: { readonly [T in SourceType]: SourceGenerator<T> } = {
  s3: s3SourceGenerator,
  kinesis: kinesisSourceGenerator,
  dynamodb: dynamodbSourceGenerator,
};

export const SINK_GENERATORS: { readonly [T in SinkType]: SinkGenerator<T> } = {
  s3: s3SinkGenerator,
  elasticsearch: searchSinkGenerator('elasticsearch'),
  opensearch: searchSinkGenerator('opensearch'),
  redshift: redshiftSinkGenerator,
  postgres: postgresSinkGenerator,
};

/** What source `id` adds to the stack, from the module of its type. */
export function sourceContribution(id: string, config: SourceConfig, context: GeneratorContext): Contribution {
  // The lists' types tie each module to its type's config; TypeScript cannot follow that through a
  // lookup by a union-typed key, so the pairing is asserted here, once.
  const generator = SOURCE_GENERATORS[config.type] as SourceGenerator;
  return generator.contribute(id, config, context);
}

/** What sink `id` adds to the stack, from the module of its type. */
export function sinkContribution(id: string, config: SinkConfig, context: GeneratorContext): Contribution {
  const generator = SINK_GENERATORS[config.type] as SinkGenerator;
  return generator.contribute(id, config, context);
}
