/**
 * Errors of the engine. Spec problems are data (`Diagnostic`), not exceptions; the classes
 * here are for the few failures that stop work altogether.
 */

/** Every code `ingest validate` can report. Stable: users grep for them and CI keys on them. */
export const SPEC_CODES = {
  // Reading the file
  'file-too-large': 'The file exceeds the size bound for a spec (1 MiB).',
  'invalid-encoding': 'The file is not valid UTF-8.',
  'empty-file': 'The file holds no YAML document.',
  'yaml-syntax': 'The YAML is malformed.',
  'duplicate-key': 'A mapping has the same key twice.',
  'alias-limit': 'YAML aliases (and merge keys `<<: *x`, which expand through them) expand beyond the allowed bound (alias bomb protection).',
  'multiple-documents': 'The file holds more than one YAML document; a spec is one document.',
  'not-a-mapping': 'The top level of a spec must be a mapping.',
  // Shape (JSON Schema)
  'unknown-field': 'A field that this object does not define.',
  'missing-field': 'A required field is absent.',
  'wrong-type': 'A value has the wrong type (string, number, list, mapping...).',
  'invalid-value': 'A value is not one of the allowed values or does not match the expected format.',
  'out-of-range': 'A number, string or list is outside its allowed range or length.',
  'conflicting-fields': 'Two fields that exclude each other are both given (e.g. `workgroup` and `cluster`).',
  'unknown-type': 'A source or sink `type` that Ingest does not know.',
  'invalid-step': 'A transform step must have exactly one known step kind.',
  'reserved-field-name': 'A field path uses `__proto__`, `constructor` or `prototype`, which could reach an object prototype.',
  // Meaning (semantic checks)
  'duplicate-id': 'The same id is used by two components (sources, transforms and sinks share one namespace).',
  'name-too-long': 'The pipeline name combined with a component id exceeds an AWS resource name limit.',
  'logical-id-collision': 'Two source or sink ids, or two parameter names, take one CloudFormation logical id: their CamelCase forms are equal (`orders_1` and `orders1` are both `Orders1`).',
  'unknown-input': 'An `inputs` entry names no source or transform.',
  'transform-cycle': 'Transforms feed each other in a cycle.',
  'unreachable-sink': 'A sink receives records from no source.',
  'unused-source': 'A source feeds no transform or sink (warning).',
  'undeclared-parameter': 'A `${param.x}` reference names no declared parameter.',
  'invalid-expression': 'A CEL expression does not compile or does not type-check.',
  'unknown-variable': 'A CEL expression uses a variable other than `record` and `meta`, or a template a name its context does not hold.',
  'unknown-function': 'A CEL expression calls a function that is not declared.',
  'invalid-template': 'A Handlebars template does not compile.',
  'unknown-helper': 'A Handlebars template uses a helper that is not registered.',
  'overlapping-s3-sources': 'Two S3 sources match the same objects, which would be ingested twice.',
  'invalid-key-prefix': 'An S3 key prefix (sink `key`, dead-letter or staging `prefix`) does not end with `/`, starts with `/`, or has an empty, `.` or `..` segment.',
  'self-trigger': 'An S3 sink, the dead-letter location or a staging location writes objects that an S3 source of the same pipeline reads: each output would invoke the function again.',
  'upsert-keys-required': '`mode: upsert` needs `keys`.',
  'keys-not-in-columns': 'Every upsert key must be one of the `columns`.',
  'invalid-identifier': 'A SQL identifier (schema, table, column) is not a valid identifier.',
  'invalid-index-name': 'A static `index` of a search sink is a name Elasticsearch and OpenSearch refuse: upper case, a leading `-`, `_` or `+`, a space or one of `\\ / * ? " < > | , # :`.',
  'missing-document-id': 'A search sink without `id`: an error with `update`, `delete` or `version`, which need one; otherwise a warning, since a retried request may index a document twice.',
  'batch-out-of-range': 'Batch, window or retry settings outside the ranges AWS accepts.',
  'invalid-filter-pattern': 'A Kinesis `filter` pattern that Lambda event filtering would refuse: a field that is not a list of matchers or a nested pattern, an unknown matcher, or a matcher with a wrong operand.',
  'missing-file': 'A file the spec refers to (a JSON Schema of a `validate` step, a test event) cannot be read.',
  'invalid-schema-file': 'The JSON Schema file of a `validate` step is not valid JSON or does not compile.',
  'duplicate-test-name': 'Two test cases share a name.',
  'unknown-test-target': 'A test case names a source or sink the spec does not declare.',
  // Packaging (`ingest package`)
  'sink-not-runnable': 'A sink whose type has no runtime in this version yet (it validates and runs in `ingest test` and `ingest run --local`), so the spec cannot be packaged.',
} as const;

export type SpecCode = keyof typeof SPEC_CODES;

/** A usage or I/O failure of a command: exit code 2, one line, no stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
