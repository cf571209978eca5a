// Declares scripts/compile-spec-validators.mjs's output, which is built, not committed.
import type { ValidateFunction } from 'ajv';

/** The spec schema's strict validator (all errors, verbose, formats), compiled at build time. */
declare const validateSpec: ValidateFunction;
export default validateSpec;
