import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_BUCKET_VARIABLE, PARAMETER_PREFIX } from '../../../engine/function-environment.ts';
import { buildPorts } from '../../../engine/ports/aws-ports.ts';
import { checkParameters, substituteParameters } from '../../../engine/spec/resolved-spec.ts';
import type { CfnValue } from '../../../generator/contribution.ts';
import { generateTemplate } from '../../../generator/template.ts';
import { exampleSpecs, featureSpecs } from '../../support/generator-specs.ts';

// The deployed function starts only when its environment completes the packaged spec
// (engine/lambda.ts): a value for every parameter without a default, a dead-letter bucket, the
// ledger table of batching sinks, the notification topic. Each generated template must set every
// variable the function's start-up checks ask for, whatever the spec; a missing one would deploy
// a stack whose every invocation fails at cold start.

/** What a deployment could give a parameter: a URL for a postgres `url`, else a plain string. */
function deployedValue(name: string): string {
  return name.endsWith('url') ? 'postgres://loader:secret@db.internal:5432/shipments' : `deployed-${name}`;
}

/** The function's environment as deployed: each variable set by the template, with a deployed value for each reference. */
function deployedEnvironment(variables: Record<string, CfnValue>): Record<string, string> {
  const environment: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(variables)) {
    environment[name] = typeof value === 'string' ? value : name.startsWith(PARAMETER_PREFIX) ? deployedValue(name.slice(PARAMETER_PREFIX.length).toLowerCase()) : `deployed-${name.toLowerCase()}`;
  }
  return environment;
}

describe('the environment of the generated function', () => {
  it.each([...exampleSpecs(), ...featureSpecs()].map(({ name, spec }) => [name, spec] as const))('%s completes the spec as the function checks it at cold start', (_, spec) => {
    const variables = (generateTemplate(spec).Resources.Function!.Properties!.Environment as { Variables: Record<string, CfnValue> }).Variables;
    const environment = deployedEnvironment(variables);
    const parameters: Record<string, string> = Object.create(null);
    for (const [name, value] of Object.entries(environment)) if (name.startsWith(PARAMETER_PREFIX)) parameters[name.slice(PARAMETER_PREFIX.length).toLowerCase()] = value;

    expect(() => checkParameters(spec, parameters, (name) => name, { allowUnknown: false })).not.toThrow();
    expect(spec.dead_letter.bucket ?? environment[DEAD_LETTER_BUCKET_VARIABLE]).toBeTruthy();
    expect(() => buildPorts(substituteParameters(spec, parameters), { ...environment, AWS_REGION: 'eu-west-1' })).not.toThrow();
  });

  it('sets no variable the function does not read', () => {
    const known = /^(INGEST_PARAM_[A-Z0-9_]+|INGEST_DEAD_LETTER_BUCKET|INGEST_LEDGER_TABLE|INGEST_NOTIFICATION_TOPIC)$/;
    const unknown = [...exampleSpecs(), ...featureSpecs()].flatMap(({ spec }) => {
      const variables = (generateTemplate(spec).Resources.Function!.Properties!.Environment as { Variables: Record<string, CfnValue> }).Variables;
      return Object.keys(variables).filter((name) => name.startsWith('INGEST_') && !known.test(name));
    });

    expect(unknown).toEqual([]);
  });
});
