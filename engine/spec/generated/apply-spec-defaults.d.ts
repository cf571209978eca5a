// Declares scripts/compile-spec-validators.mjs's output, which is built, not committed.
import type { ValidateFunction } from 'ajv';

/** The spec schema's validator that inserts defaults into the value it checks, compiled at build time. */
declare const applySpecDefaults: ValidateFunction;
export default applySpecDefaults;
