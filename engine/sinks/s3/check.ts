import type { CheckContext } from '../../plugin/checks.ts';

/**
 * The text of a key prefix template with every `{{...}}` replaced by one placeholder character:
 * what the literal parts say about the shape of every rendered prefix.
 */
function skeleton(source: string): string {
  return source.replace(/\{\{[\s\S]*?\}\}/g, '\u0000');
}

/**
 * The literal text every key rendered from `source` starts with: the template up to its first
 * `{{`. Any key the prefix produces begins with it.
 */
export function literalPrefix(source: string): string {
  const open = source.indexOf('{{');
  return open < 0 ? source : source.slice(0, open);
}

/**
 * Why `source` cannot be an S3 key prefix to which the engine appends object names, or
 * `undefined` when it can. A prefix must end with `/` (else `orders` + a name gives
 * `orders<name>`), must not start with `/`, and must not hold an empty, `.` or `..` segment (S3
 * keeps them, but no file system or tool reads such keys back as written, and the local stores
 * refuse them). Templates are judged by their literal text; `allowEmpty` admits `''` (the bucket's top level).
 */
export function keyPrefixProblem(source: string, allowEmpty = false): string | undefined {
  if (source === '') return allowEmpty ? undefined : 'is empty';
  const shape = skeleton(source);
  if (!shape.endsWith('/')) return `does not end with \`/\`: the engine appends object names to it directly (\`${source}<name>\`); write \`${source}/\``;
  if (shape.startsWith('/')) return 'starts with `/`: keys would begin with an empty segment; remove the leading `/`';
  const segments = shape.slice(0, -1).split('/');
  if (segments.some((segment) => segment === '')) return 'has an empty segment (`//`): write one `/` between segments';
  const dots = segments.find((segment) => segment === '.' || segment === '..');
  if (dots !== undefined) return `has a \`${dots}\` segment, which tools resolve as a path step, not as part of the key`;
  return undefined;
}

interface S3SinkSettings {
  key: string;
}

/** Offline checks of an S3 sink beyond its schema: the shape of its key prefix. */
export function checkS3Sink(config: S3SinkSettings, context: CheckContext): void {
  const problem = keyPrefixProblem(config.key);
  if (problem) context.report(['key'], 'invalid-key-prefix', `key prefix \`${config.key}\` ${problem}`);
}
