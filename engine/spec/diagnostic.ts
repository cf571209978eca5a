import type { SpecCode } from '../errors.ts';

export type Severity = 'error' | 'warning';

/** One problem found in a spec, located at the YAML node it is about. Lines and columns are 1-based. */
export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  severity: Severity;
  code: SpecCode;
  message: string;
  /** JSON Pointer into the spec of the offending value ('' for the whole document). */
  instancePath: string;
}

/** A path into the spec value, as keys and list indexes. */
export type SpecPath = readonly (string | number)[];

export function toPointer(path: SpecPath): string {
  return path.map((part) => '/' + String(part).replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}
