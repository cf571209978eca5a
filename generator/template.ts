/**
 * The CloudFormation template of a spec. The core (the function, its role and its log group, the
 * spec's parameters, the code location) is built here; everything else comes from the generator
 * modules of the spec's sources and sinks (`generator/registry.ts`) and of the runtime features
 * (`generator/runtime/`), merged without switching on a component type. The output is
 * deterministic: logical ids derive from component ids (docs/decisions/0041-logical-ids.md), keys
 * are sorted, and nothing depends on the time or the machine, so a diff of two generated templates
 * shows what a change of the spec changes.
 */
import { stringify } from 'yaml';
import { parameterVariable } from '../engine/function-environment.ts';
import type { ResolvedSpec } from '../engine/spec/resolved-spec.ts';
import { logicalIdOf } from '../engine/spec/logical-id.ts';
import type { SinkType, SourceType } from '../engine/spec/spec-types.ts';
import type {
  CfnOutput,
  CfnResource,
  CfnValue,
  Contribution,
  GeneratorContext,
  IamStatement,
  RuntimeGenerator,
  SinkGenerator,
  SourceGenerator,
  TemplateOptions,
} from './contribution.ts';
import { SINK_GENERATORS, SOURCE_GENERATORS } from './registry.ts';
import { alarms } from './runtime/alarms.ts';
import { deadLetters } from './runtime/dead-letters.ts';
import { ledger } from './runtime/ledger.ts';
import { notifications } from './runtime/notifications.ts';
import { schedule } from './runtime/schedule.ts';
import { parameterLogicalId, specValue } from './substitution.ts';

/**
 * The Lambda runtime of the function: the newest Node.js runtime that cfn-lint neither flags as
 * deprecated nor AWS blocks (nodejs20.x was deprecated on 2026-04-30; nodejs22.x is until
 * 2027-04-30, when the cfn-lint test will say so). The bundle targets Node.js 20, which 22 runs.
 */
export const FUNCTION_RUNTIME = 'nodejs22.x';

/** Logical ids of the core resources; every other id comes from `GeneratorContext.logicalId`. */
export const CORE_IDS = { function: 'Function', role: 'FunctionRole', logGroup: 'FunctionLogGroup' } as const;

/** The Parameters that take the code's location when `TemplateOptions.code` is not given. */
export const CODE_PARAMETERS = { bucket: 'CodeBucket', key: 'CodeKey' } as const;

/** Runtime features, in one literal list: each contributes nothing when the spec does not use it. */
const RUNTIME_GENERATORS: readonly RuntimeGenerator[] = [deadLetters, ledger, schedule, notifications, alarms];

export interface CfnParameter {
  Type: 'String' | 'Number';
  Description?: string;
  Default?: string | number;
  NoEcho?: boolean;
}

/** A CloudFormation template, as `renderTemplate` writes it. */
export interface Template {
  AWSTemplateFormatVersion: '2010-09-09';
  Description: string;
  Parameters?: Record<string, CfnParameter>;
  Conditions?: Record<string, CfnValue>;
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, CfnOutput>;
}

/** A template and what the user must know or do that it cannot say (`Contribution.notes`), in spec order. */
export interface GeneratedStack {
  template: Template;
  notes: string[];
}

/**
 * Two parts of the stack claim the same logical id, environment variable, output or condition:
 * two component ids whose CamelCase forms meet (`x_1` and `x1`), or a parameter named like a
 * resource. Thrown by `generateStack`; the message names both owners and what to rename.
 */
export class TemplateError extends Error {
  override name = 'TemplateError';
}

/** The generator modules by type; a parameter for tests, `generator/registry.ts` otherwise. */
export interface Generators {
  sources: { readonly [T in SourceType]: SourceGenerator<T> };
  sinks: { readonly [T in SinkType]: SinkGenerator<T> };
}

/** The template of a spec (resolved: defaults applied, parameters left as references). See `generateStack`. */
export function generateTemplate(spec: ResolvedSpec, options: TemplateOptions = {}): Template {
  return generateStack(spec, options).template;
}

/**
 * The template of a spec and its notes. Same spec and options, same template, byte for byte once
 * rendered. Without `options.code`, the function's code is read from the `CodeBucket` and
 * `CodeKey` Parameters. Throws `TemplateError` when two parts of the stack claim one name.
 */
export function generateStack(spec: ResolvedSpec, options: TemplateOptions = {}, generators: Generators = { sources: SOURCE_GENERATORS, sinks: SINK_GENERATORS }): GeneratedStack {
  const context: GeneratorContext = { spec, core: { ...CORE_IDS }, logicalId: (...parts) => logicalId(parts), value: specValue };
  const stack = new StackBuilder();

  for (const [name, declaration] of Object.entries(spec.parameters ?? {})) stack.add(`parameter ${name}`, specParameter(name, declaration));
  stack.add('the template', core(spec, options));
  for (const [id, source] of Object.entries(spec.sources)) {
    const generator = generators.sources[source.type] as SourceGenerator;
    stack.add(`source ${id}`, generator.contribute(id, source, context), `source_${id}`);
  }
  for (const [id, sink] of Object.entries(spec.sinks)) {
    const generator = generators.sinks[sink.type] as SinkGenerator;
    stack.add(`sink ${id}`, generator.contribute(id, sink, context), `sink_${id}`);
  }
  for (const feature of RUNTIME_GENERATORS) stack.add(`the ${feature.feature} feature`, feature.contribute(context), feature.feature);

  refuseSharedPhysicalNames(stack);
  // Sorted by Sid (each unique), so that reordering components in the spec changes nothing.
  const statements = [...stack.statements].sort((a, b) => (a.Sid! < b.Sid! ? -1 : 1));
  attachStatements(stack, statements);
  const functionProperties = stack.resources[CORE_IDS.function]!.Properties!;
  functionProperties.Environment = { Variables: stack.environment };

  const template: Template = {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: description(spec),
    ...(Object.keys(stack.parameters).length > 0 ? { Parameters: stack.parameters } : {}),
    ...(Object.keys(stack.conditions).length > 0 ? { Conditions: stack.conditions } : {}),
    Resources: stack.resources,
    Outputs: stack.outputs,
  };
  return { template, notes: stack.notes };
}

/**
 * The template as text, ending with a newline: YAML (CloudFormation's long-form intrinsics,
 * `Fn::Sub:`, no custom tags; strings that a YAML 1.1 reader would take for another type quoted)
 * or JSON. Keys are sorted, except the template's sections and a resource's attributes, which keep
 * CloudFormation's customary order.
 */
export function renderTemplate(template: Template, format: 'yaml' | 'json'): string {
  const canonical = canonicalTemplate(template);
  if (format === 'json') return `${JSON.stringify(canonical, null, 2)}\n`;
  // YAML 1.1 quoting: CloudFormation and cfn-lint read YAML 1.1, where an unquoted 2012-10-17 is a
  // date and `on` a boolean.
  return stringify(canonical, { version: '1.1', lineWidth: 0, aliasDuplicateObjects: false, sortMapEntries: false });
}

/** IAM's bound on the inline policies of one role, and on one managed policy, in characters without whitespace. */
export const INLINE_POLICY_LIMIT = 10_240;
export const MANAGED_POLICY_LIMIT = 6_144;

/**
 * Gives the role its statements: one inline policy while they fit IAM's 10,240 characters, else
 * as many customer managed policies (`FunctionPolicy1`, ...) of at most 6,144 characters each as
 * needed, which the function waits for, so that no event source mapping is created before the role
 * may read its source.
 */
function attachStatements(stack: StackBuilder, statements: IamStatement[]): void {
  const role = stack.resources[CORE_IDS.role]!;
  const document = (part: IamStatement[]) => ({ Version: '2012-10-17', Statement: part as unknown as CfnValue[] });
  const size = (value: unknown) => JSON.stringify(value).replace(/\s/g, '').length;
  if (size(document(statements)) <= INLINE_POLICY_LIMIT) {
    role.Properties!.Policies = [{ PolicyName: 'ingest-function', PolicyDocument: document(statements) }];
    return;
  }
  const parts: IamStatement[][] = [[]];
  for (const statement of statements) {
    if (parts.at(-1)!.length > 0 && size(document([...parts.at(-1)!, statement])) > MANAGED_POLICY_LIMIT) parts.push([]);
    parts.at(-1)!.push(statement);
  }
  const ids = parts.map((part, index) => {
    const id = `FunctionPolicy${index + 1}`;
    stack.add('the template', {
      resources: {
        [id]: { Type: 'AWS::IAM::ManagedPolicy', Properties: { Description: `Ingest pipeline function, part ${index + 1} of ${parts.length}`, Roles: [{ Ref: CORE_IDS.role }], PolicyDocument: document(part) } },
      },
    });
    return id;
  });
  stack.resources[CORE_IDS.function]!.DependsOn = ids;
}

/** The property that names a resource of each type in AWS, which two resources of one type cannot share. */
const PHYSICAL_NAME: Readonly<Record<string, string>> = {
  'AWS::S3::Bucket': 'BucketName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::Kinesis::Stream': 'Name',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::Events::Rule': 'Name',
  'AWS::CloudWatch::Alarm': 'AlarmName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
};

/**
 * Throws `TemplateError` when two resources of one type take the same name (two components that
 * both `create` bucket `acme-out`, or the dead-letter bucket and an S3 sink's): CloudFormation would
 * fail on the second after creating the first.
 */
function refuseSharedPhysicalNames(stack: StackBuilder): void {
  const seen = new Map<string, string>();
  for (const [id, resource] of Object.entries(stack.resources)) {
    const property = Object.hasOwn(PHYSICAL_NAME, resource.Type) ? PHYSICAL_NAME[resource.Type]! : undefined;
    const value = property === undefined ? undefined : resource.Properties?.[property];
    if (value === undefined) continue;
    const key = JSON.stringify([resource.Type, value]);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new TemplateError(`${earlier} (${stack.ownerOf(earlier)}) and ${id} (${stack.ownerOf(id)}) are both ${resource.Type} ${JSON.stringify(value)}; let one part of the spec create it`);
    }
    seen.set(key, id);
  }
}

/** A stable logical id from component ids and kinds: `['clicks', 'Queue']` → `ClicksQueue`. */
function logicalId(parts: readonly string[]): string {
  const id = parts.map(logicalIdOf).join('');
  if (!/^[A-Za-z][A-Za-z0-9]{0,254}$/.test(id)) throw new TemplateError(`cannot make a CloudFormation logical id of ${JSON.stringify(parts)}`);
  return id;
}

/** A spec parameter as a CloudFormation Parameter, and the variable that passes its value to the function. */
function specParameter(name: string, declaration: NonNullable<ResolvedSpec['parameters']>[string]): Contribution & { parameters: Record<string, CfnParameter> } {
  const id = parameterLogicalId(name);
  return {
    parameters: {
      [id]: {
        Type: declaration.type === 'number' ? 'Number' : 'String',
        Description: declaration.description ?? `Spec parameter ${name}`,
        ...(declaration.default === undefined ? {} : { Default: declaration.default }),
        ...(declaration.secret ? { NoEcho: true } : {}),
      },
    },
    environment: { [parameterVariable(name)]: { Ref: id } },
  };
}

/** The function, its role (statements are merged in by `generateStack`), its log group, parameters and outputs. */
function core(spec: ResolvedSpec, options: TemplateOptions): Contribution & { parameters: Record<string, CfnParameter> } {
  const { runtime } = spec;
  const parameters: Record<string, CfnParameter> = {};
  const environment: Record<string, CfnValue> = {};
  for (const [name, value] of Object.entries(runtime.environment ?? {})) environment[name] = specValue(value);

  let code: { S3Bucket: CfnValue; S3Key: CfnValue };
  if (options.code) {
    code = { S3Bucket: options.code.bucket, S3Key: options.code.key };
  } else {
    parameters[CODE_PARAMETERS.bucket] = { Type: 'String', Description: 'Bucket holding the function package (ingest package --zip --bucket)' };
    parameters[CODE_PARAMETERS.key] = { Type: 'String', Description: 'Key of the function package zip in CodeBucket' };
    code = { S3Bucket: { Ref: CODE_PARAMETERS.bucket }, S3Key: { Ref: CODE_PARAMETERS.key } };
  }

  const logGroupArn = { 'Fn::GetAtt': [CORE_IDS.logGroup, 'Arn'] };
  const secret = Object.entries(spec.parameters ?? {}).filter(([, declaration]) => declaration.secret).map(([name]) => name);
  return {
    parameters,
    environment,
    resources: {
      [CORE_IDS.logGroup]: {
        Type: 'AWS::Logs::LogGroup',
        // Deleted with the stack, on purpose: its name is the stack's, so a retained group would
        // make the same stack impossible to create again; retention bounds what it keeps anyway.
        DeletionPolicy: 'Delete',
        UpdateReplacePolicy: 'Delete',
        Properties: { LogGroupName: { 'Fn::Sub': '/aws/lambda/${AWS::StackName}' }, RetentionInDays: runtime.log_retention_days },
      },
      [CORE_IDS.role]: {
        Type: 'AWS::IAM::Role',
        Properties: {
          Description: `Runs the Ingest pipeline ${spec.name}`,
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
          },
        },
      },
      [CORE_IDS.function]: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          Description: `Ingest pipeline ${spec.name}`,
          Runtime: FUNCTION_RUNTIME,
          Handler: 'index.handler',
          Architectures: [runtime.architecture],
          MemorySize: runtime.memory_mb,
          EphemeralStorage: { Size: runtime.ephemeral_storage_mb },
          Timeout: runtime.timeout_seconds,
          ...(runtime.reserved_concurrency === undefined ? {} : { ReservedConcurrentExecutions: runtime.reserved_concurrency }),
          Code: code,
          Role: { 'Fn::GetAtt': [CORE_IDS.role, 'Arn'] },
          // A log group of the stack's own, created before the function: Lambda never creates one
          // with unlimited retention, and the role needs no logs:CreateLogGroup.
          LoggingConfig: { LogGroup: { Ref: CORE_IDS.logGroup } },
        },
      },
    },
    // The log group exists before the function, so only these two actions on it are needed.
    statements: [{ Sid: 'WriteLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [logGroupArn] }],
    outputs: {
      FunctionName: { Description: 'Name of the pipeline function', Value: { Ref: CORE_IDS.function } },
      FunctionArn: { Description: 'ARN of the pipeline function', Value: { 'Fn::GetAtt': [CORE_IDS.function, 'Arn'] } },
      FunctionRoleArn: { Description: 'ARN of the role the function runs as', Value: { 'Fn::GetAtt': [CORE_IDS.role, 'Arn'] } },
      LogGroupName: { Description: "Log group of the function's structured logs", Value: { Ref: CORE_IDS.logGroup } },
    },
    notes:
      secret.length === 0
        ? []
        : [`secret parameters (${secret.join(', ')}) reach the function as environment variables: they are hidden in CloudFormation (NoEcho) but readable by anyone allowed lambda:GetFunctionConfiguration on the function`],
  };
}

function description(spec: ResolvedSpec): string {
  const text = spec.description ? `${spec.name}: ${spec.description}` : `Ingest pipeline ${spec.name}`;
  return `${text} (generated by ingest)`.slice(0, 1024);
}

/** Merges contributions, refusing two claims on one name. */
class StackBuilder {
  readonly parameters: Record<string, CfnParameter> = {};
  readonly conditions: Record<string, CfnValue> = {};
  readonly resources: Record<string, CfnResource> = {};
  readonly outputs: Record<string, CfnOutput> = {};
  readonly environment: Record<string, CfnValue> = {};
  readonly statements: IamStatement[] = [];
  readonly notes: string[] = [];
  private readonly owners = new Map<string, string>();

  /** Adds what `owner` contributes; statements without a Sid get one from `sidPrefix` and their position. */
  add(owner: string, contribution: Contribution & { parameters?: Record<string, CfnParameter> }, sidPrefix?: string): void {
    for (const [id, parameter] of Object.entries(contribution.parameters ?? {})) this.claim('logical id', id, owner, () => (this.parameters[id] = parameter));
    for (const [id, resource] of Object.entries(contribution.resources ?? {})) this.claim('logical id', id, owner, () => (this.resources[id] = structuredClone(resource)));
    for (const [id, condition] of Object.entries(contribution.conditions ?? {})) this.claim('condition', id, owner, () => (this.conditions[id] = condition));
    for (const [id, output] of Object.entries(contribution.outputs ?? {})) this.claim('output', id, owner, () => (this.outputs[id] = output));
    for (const [name, value] of Object.entries(contribution.environment ?? {})) this.claim('environment variable', name, owner, () => (this.environment[name] = value));
    for (const [index, statement] of (contribution.statements ?? []).entries()) {
      const sid = statement.Sid ?? `${logicalIdOf(sidPrefix ?? 'core')}${index + 1}`;
      this.claim('statement id', sid, owner, () => this.statements.push({ ...statement, Sid: sid }));
    }
    this.notes.push(...(contribution.notes ?? []));
  }

  /** Who contributed the resource with this logical id. */
  ownerOf(id: string): string {
    return this.owners.get(`logical id\u0000${id}`) ?? 'the template';
  }

  private claim(kind: string, name: string, owner: string, set: () => void): void {
    const key = `${kind}\u0000${name}`;
    const earlier = this.owners.get(key);
    if (earlier !== undefined) {
      throw new TemplateError(`${owner} and ${earlier} both need the ${kind} ${name} in the generated template; rename one of them (logical ids are the CamelCase form of component and parameter ids)`);
    }
    this.owners.set(key, owner);
    set();
  }
}

const TEMPLATE_SECTIONS = ['AWSTemplateFormatVersion', 'Description', 'Parameters', 'Conditions', 'Resources', 'Outputs'];
const RESOURCE_ATTRIBUTES = ['Type', 'Condition', 'DependsOn', 'DeletionPolicy', 'UpdateReplacePolicy', 'Properties'];

/** A copy with every map's keys sorted, except the template's sections and resource attributes, which keep CloudFormation's customary order. */
function canonicalTemplate(template: Template): unknown {
  const result: Record<string, unknown> = {};
  for (const section of TEMPLATE_SECTIONS) {
    const value = (template as unknown as Record<string, unknown>)[section];
    if (value === undefined) continue;
    if (section !== 'Resources') {
      result[section] = sortedKeys(value);
      continue;
    }
    const resources: Record<string, unknown> = {};
    for (const id of Object.keys(value as object).sort()) {
      const resource = (value as Record<string, Record<string, unknown>>)[id]!;
      const ordered: Record<string, unknown> = {};
      for (const attribute of [...RESOURCE_ATTRIBUTES, ...Object.keys(resource).filter((key) => !RESOURCE_ATTRIBUTES.includes(key)).sort()]) {
        if (resource[attribute] !== undefined) ordered[attribute] = sortedKeys(resource[attribute]);
      }
      resources[id] = ordered;
    }
    result.Resources = resources;
  }
  return result;
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined) result[key] = sortedKeys(item);
  }
  return result;
}
