/**
 * What each part of a spec adds to the generated CloudFormation stack. Every source type, sink type
 * and runtime feature has a module of its own under `generator/` (mirroring `engine/`) that turns
 * its typed, defaulted config into a `Contribution`; the template assembler (`generator/template.ts`)
 * merges the contributions of every component with the core (function, role, log group) and never
 * switches on a component type. The engine imports nothing from here.
 */
import type { ResolvedSpec, SinkConfig, SourceConfig } from '../engine/spec/resolved-spec.ts';
import type { SinkType, SourceType } from '../engine/spec/spec-types.ts';

/** A CloudFormation value: a literal, or an intrinsic function (`{ Ref: ... }`, `{ 'Fn::Sub': ... }`, `{ 'Fn::GetAtt': [...] }`). */
export type CfnValue = string | number | boolean | CfnValue[] | { [key: string]: CfnValue };

/** One resource of the template. */
export interface CfnResource {
  Type: string;
  Properties?: Record<string, CfnValue>;
  DependsOn?: string[];
  Condition?: string;
  DeletionPolicy?: 'Delete' | 'Retain' | 'RetainExceptOnCreate' | 'Snapshot';
  UpdateReplacePolicy?: 'Delete' | 'Retain' | 'Snapshot';
}

/** One statement of the function role's policy: always scoped to the exact ARNs the component names. */
export interface IamStatement {
  Sid?: string;
  Effect: 'Allow';
  Action: string[];
  Resource: CfnValue[];
  Condition?: Record<string, CfnValue>;
}

export interface CfnOutput {
  Description: string;
  Value: CfnValue;
}

/** What one component (or runtime feature) adds to the stack. Every part is optional; the assembler merges them in spec order. */
export interface Contribution {
  /** Resources by logical id (made with `GeneratorContext.logicalId`, so ids are stable and never collide). */
  resources?: Record<string, CfnResource>;
  /** Statements added to the function's role. */
  statements?: IamStatement[];
  /** Environment variables of the function. */
  environment?: Record<string, CfnValue>;
  outputs?: Record<string, CfnOutput>;
  /** Conditions by logical id, for values that depend on the form of a parameter's value (a table name or an ARN). */
  conditions?: Record<string, CfnValue>;
  /**
   * What the user must know or do that the template cannot (an existing bucket needs EventBridge
   * notifications enabled; a role wider than one resource because an endpoint is a parameter).
   * `ingest generate` prints them; `ingest validate` prints those that are about the spec.
   */
  notes?: string[];
}

/** What a generator module may use besides its component's config. */
export interface GeneratorContext {
  spec: ResolvedSpec;
  /** Logical ids of the core resources, for `Ref`/`Fn::GetAtt` and `DependsOn`. */
  core: { function: string; role: string; logGroup: string };
  /**
   * A stable logical id from component ids and a resource kind: `logicalId('clicks', 'Queue')` →
   * `ClicksQueue`. Deterministic (same spec, same ids), alphanumeric, at most 255 characters.
   */
  logicalId(...parts: string[]): string;
  /**
   * The CloudFormation value of a spec string that may hold `${param.<name>}` references: the
   * literal itself when it holds no `${`, an `Fn::Sub` over the stack's Parameters when it refers
   * to one (any other `${` escaped), else an `Fn::Join` that keeps its `${` literal.
   */
  value(text: string): CfnValue;
}

/** The generator module of a source type (`generator/sources/kinesis.ts` beside `engine/sources/kinesis/`). */
export interface SourceGenerator<T extends SourceType = SourceType> {
  type: T;
  contribute(id: string, config: SourceConfig<T>, context: GeneratorContext): Contribution;
}

/** The generator module of a sink type (`generator/sinks/redshift.ts` beside `engine/sinks/...`). */
export interface SinkGenerator<T extends SinkType = SinkType> {
  type: T;
  contribute(id: string, config: SinkConfig<T>, context: GeneratorContext): Contribution;
}

/**
 * The generator module of a runtime feature (`generator/runtime/ledger.ts`): what the stack needs
 * for a behaviour of the runtime as a whole (dead letters, the ledger, the sweep schedule,
 * notifications, alarms). It reads the whole spec and contributes nothing when the spec does not
 * use the feature.
 */
export interface RuntimeGenerator {
  feature: string;
  contribute(context: GeneratorContext): Contribution;
}

/** Where the function's code is, for the template: the zip `ingest package --zip --bucket` uploaded. */
export interface FunctionCode {
  bucket: CfnValue;
  key: CfnValue;
}

/** Options of `generateTemplate(spec, options)` in `generator/template.ts`. */
export interface TemplateOptions {
  /** The packaged code; without it the template takes the bucket and key as Parameters (`CodeBucket`, `CodeKey`). */
  code?: FunctionCode;
}
