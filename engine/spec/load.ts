import { isUtf8 } from 'node:buffer';
import { Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, visit } from 'yaml';
import type { Node, ParsedNode, Scalar } from 'yaml';
import type { SpecCode } from '../errors.ts';
import type { Diagnostic, SpecPath } from './diagnostic.ts';
import { toPointer } from './diagnostic.ts';

/** Specs larger than this are refused before parsing: no real spec comes near it. */
export const MAX_SPEC_BYTES = 1024 * 1024;
/**
 * Bound on alias expansion while building the spec value; defeats "billion laughs" documents.
 * Merge keys (`<<: *common`) expand through aliases, so the same bound holds them.
 */
const MAX_ALIAS_COUNT = 100;
/** The YAML 1.1 merge key, which specs may use to share settings between components. */
const MERGE_KEY = '<<';

/** A spec file parsed with its node ranges, so any path into its value maps back to `line:col`. */
export interface LoadedSpec {
  file: string;
  value: Record<string, unknown>;
  /** Locates the YAML node at `path`: the key itself for `'key'`, else its value. Falls back to the deepest existing ancestor. */
  locate(path: SpecPath, target?: 'key' | 'value'): { line: number; column: number };
}

export type LoadResult = { ok: true; spec: LoadedSpec } | { ok: false; diagnostics: Diagnostic[] };

/**
 * Parses the bytes of a spec file. Never throws for bad input: every problem is a diagnostic at
 * the position it concerns (encoding, size, syntax, duplicate keys, aliases, several documents,
 * a top level that is not a mapping).
 */
export function loadSpec(file: string, bytes: Uint8Array): LoadResult {
  const fail = (code: SpecCode, message: string, line = 1, column = 1): LoadResult => ({
    ok: false,
    diagnostics: [{ file, line, column, severity: 'error', code, message, instancePath: '' }],
  });

  if (bytes.byteLength > MAX_SPEC_BYTES) {
    return fail('file-too-large', `spec is ${bytes.byteLength} bytes; the limit is ${MAX_SPEC_BYTES} bytes`);
  }
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isUtf8(buffer)) {
    const at = firstInvalidUtf8(buffer);
    const lines = buffer.subarray(0, at).toString('utf8').split('\n');
    return fail('invalid-encoding', `byte 0x${buffer[at]?.toString(16).padStart(2, '0')} at offset ${at} is not valid UTF-8; save the file as UTF-8`, lines.length, (lines.at(-1)?.length ?? 0) + 1);
  }
  const text = buffer.toString('utf8').replace(/^\uFEFF/, '');

  const lineCounter = new LineCounter();
  // `merge`: `<<: *common` copies the keys of the anchored mapping, as YAML 1.1 defines it.
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true, merge: true });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  if (!Array.isArray(documents)) return fail('empty-file', 'the file holds no YAML document');
  const [doc, second] = documents;
  if (!doc) return fail('empty-file', 'the file holds no YAML document');
  if (second) {
    const at = position(second.range[0]);
    return fail('multiple-documents', 'the file holds more than one YAML document; put each spec in its own file', at.line, at.column);
  }

  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    return {
      ok: false,
      diagnostics: problems.map((problem) => {
        const at = position(skipIndentation(text, problem.pos[0]));
        const code: SpecCode = problem.code === 'DUPLICATE_KEY' ? 'duplicate-key' : 'yaml-syntax';
        const message = problem.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return { file, ...at, severity: 'error' as const, code, message, instancePath: '' };
      }),
    };
  }

  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    return fail('empty-file', 'the file holds no YAML document');
  }
  if (!isMap(doc.contents)) {
    const at = position(doc.contents.range[0]);
    return fail('not-a-mapping', 'the top level of a spec must be a mapping (version, name, sources, sinks, ...)', at.line, at.column);
  }

  const inexact = firstInexactNumber(doc);
  if (inexact) {
    const at = position(inexact.node.range?.[0] ?? 0);
    return {
      ok: false,
      diagnostics: [{ file, ...at, severity: 'error', code: 'out-of-range', message: inexact.message, instancePath: toPointer(inexact.path) }],
    };
  }

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    const at = position(firstAliasOffset(doc));
    return fail('alias-limit', `YAML aliases expand to more than ${MAX_ALIAS_COUNT} nodes; write the values out instead`, at.line, at.column);
  }

  const root = doc.contents;
  return {
    ok: true,
    spec: {
      file,
      value: value as Record<string, unknown>,
      locate(path, target = 'value') {
        return position(findNode(doc, root, path, target).range?.[0] ?? 0);
      },
    },
  };
}

/** Builds a diagnostic located at `path` of a loaded spec. */
export function diagnosticAt(
  spec: LoadedSpec,
  path: SpecPath,
  code: SpecCode,
  message: string,
  options: { severity?: 'error' | 'warning'; target?: 'key' | 'value' } = {},
): Diagnostic {
  return {
    file: spec.file,
    ...spec.locate(path, options.target),
    severity: options.severity ?? 'error',
    code,
    message,
    instancePath: toPointer(path),
  };
}

function findNode(doc: Document.Parsed, root: ParsedNode, path: SpecPath, target: 'key' | 'value'): Node {
  let node: Node = root;
  for (const [index, segment] of path.entries()) {
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = findPair(doc, node, String(segment), 0);
      if (!pair) return node;
      if (last && target === 'key') return pair.key as Node;
      if (!pair.value) return pair.key as Node;
      node = pair.value as Node;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (!item) return node;
      node = item as Node;
    } else {
      return node;
    }
  }
  return node;
}

type MapNode = Extract<Node, { items: unknown[] }> & { items: unknown[] };

/**
 * The pair of `map` with key `key`: its own, else one that a merge key (`<<: *common` or
 * `<<: [*a, *b]`) brings in, earlier merges first as YAML 1.1 defines. A diagnostic about a
 * merged value then points at the line where the shared value is written.
 */
function findPair(doc: Document.Parsed, map: MapNode, key: string, depth: number): { key: unknown; value: unknown } | undefined {
  const pairs = map.items.filter(isPair);
  const own = pairs.find((item) => isScalar(item.key) && !isMergeKey(item.key) && String(item.key.value) === key);
  if (own || depth > MAX_ALIAS_COUNT) return own;
  for (const pair of pairs) {
    if (!isMergeKey(pair.key)) continue;
    const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
    for (const source of sources) {
      const target = isAlias(source) ? source.resolve(doc) : source;
      if (isMap(target)) {
        const found = findPair(doc, target as MapNode, key, depth + 1);
        if (found) return found;
      }
    }
  }
  return undefined;
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (key as Scalar).source === MERGE_KEY;
}

interface InexactNumber {
  node: Scalar;
  path: SpecPath;
  message: string;
}

/**
 * The first number in the document that the spec value cannot hold as written: an integer
 * beyond ±2^53 (`9007199254740993` would silently become `...992`), or a number too large to be
 * finite (`1e400`, `.inf`) or not a number (`.nan`). Every consumer of the spec (ajv, the
 * runtime, the generator) would see a different value than the one the user wrote.
 */
function firstInexactNumber(doc: Document.Parsed): InexactNumber | undefined {
  // A recursion of its own rather than yaml's `visit`, which copies and freezes the ancestor list at
  // every map, list and pair: that copying cost as much as the check on every spec loaded.
  const ancestors: unknown[] = [];
  const search = (node: unknown, isKey: boolean): InexactNumber | undefined => {
    if (isScalar(node)) {
      if (isKey || typeof node.value !== 'number') return undefined;
      const source = node.source ?? String(node.value);
      const message = inexactNumberMessage(node.value, source);
      return message === undefined ? undefined : { node, path: specPathOf(ancestors, node), message };
    }
    if (!isMap(node) && !isSeq(node) && !isPair(node)) return undefined;
    ancestors.push(node);
    let found: InexactNumber | undefined;
    if (isPair(node)) found = search(node.key, true) ?? search(node.value, false);
    else for (const item of node.items) if ((found = search(item, false))) break;
    ancestors.pop();
    return found;
  };
  return search(doc.contents, false);
}

function inexactNumberMessage(value: number, source: string): string | undefined {
  if (Number.isNaN(value)) return `\`${source}\` is not a number; write a number, or quote it to keep it as text`;
  if (!Number.isFinite(value)) return `\`${source}\` is too large to be a number (it would become infinity); write a smaller number, or quote it to keep it as text`;
  if (Number.isSafeInteger(value) || !/^[-+]?[0-9][0-9_]*$/.test(source)) return undefined;
  const written = BigInt(source.replaceAll('_', ''));
  if (BigInt(value) === written) return undefined;
  return `integer \`${source}\` is beyond ±2^53 and cannot be held exactly (it would become ${BigInt(value)}); quote it to keep it as text`;
}

/** The spec path of `node`, given its ancestors from the document's contents down (maps, pairs, sequences). */
function specPathOf(ancestors: readonly unknown[], node: unknown): SpecPath {
  const path: (string | number)[] = [];
  const chain = [...ancestors, node];
  for (const [index, ancestor] of chain.entries()) {
    const next = chain[index + 1];
    if (isPair(ancestor) && isScalar(ancestor.key)) path.push(String(ancestor.key.value));
    else if (isSeq(ancestor) && next !== undefined) path.push(ancestor.items.indexOf(next as never));
  }
  return path;
}

/** yaml reports a badly indented item at the start of its line; point at the item itself. */
function skipIndentation(text: string, offset: number): number {
  if (offset > 0 && text[offset - 1] !== '\n') return offset;
  let end = offset;
  while (text[end] === ' ') end++;
  return end < text.length && text[end] !== '\n' && text[end] !== '\r' ? end : offset;
}

function firstAliasOffset(doc: Document.Parsed): number {
  let offset = 0;
  visit(doc, {
    Alias(_key, node) {
      if (isAlias(node) && node.range) offset = node.range[0];
      return visit.BREAK;
    },
  });
  return offset;
}

function firstInvalidUtf8(buffer: Buffer): number {
  // Everything before the first bad sequence decodes exactly, so byte offsets are exact up to it.
  const text = buffer.toString('utf8');
  let from = 0;
  for (;;) {
    const index = text.indexOf('\uFFFD', from);
    if (index < 0) return 0;
    const offset = Buffer.byteLength(text.slice(0, index));
    if (!(buffer[offset] === 0xef && buffer[offset + 1] === 0xbf && buffer[offset + 2] === 0xbd)) return offset;
    from = index + 1;
  }
}
