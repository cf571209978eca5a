/**
 * Sizes as the spec writes them: an integer number of bytes, or a decimal number with a unit
 * (`64MiB`, `1.5GB`). One parser for validation and resolution, so that `ingest validate` bounds
 * exactly the number of bytes the runtime will use.
 */

/** A size string: digits, an optional fraction, and a unit, without a space. */
export const SIZE_STRING = /^([0-9]+)(?:\.([0-9]+))?(B|KB|KiB|MB|MiB|GB|GiB)$/;

const UNIT_BYTES: Readonly<Record<string, bigint>> = Object.assign(Object.create(null), {
  B: 1n,
  KB: 1000n,
  KiB: 1024n,
  MB: 1000n ** 2n,
  MiB: 1024n ** 2n,
  GB: 1000n ** 3n,
  GiB: 1024n ** 3n,
});

/**
 * The number of whole bytes a size denotes, rounding a fraction down (`0.1KiB` is 102 bytes), in
 * exact decimal arithmetic: `4.35MB` is 4350000 bytes, not one less as `4.35 * 1e6` would give.
 * Returns `undefined` for anything that is not an integer or a size string. The result may exceed
 * `Number.MAX_SAFE_INTEGER` (it is then not exact); bound it before use.
 */
export function sizeInBytes(size: unknown): number | undefined {
  if (typeof size === 'number') return Number.isInteger(size) ? size : undefined;
  if (typeof size !== 'string') return undefined;
  const match = SIZE_STRING.exec(size);
  if (!match) return undefined;
  const [, whole, fraction = '', unit] = match;
  const scale = 10n ** BigInt(fraction.length);
  const bytes = ((BigInt(whole!) * scale + BigInt(fraction || '0')) * UNIT_BYTES[unit!]!) / scale;
  return Number(bytes);
}

/** `1048576` → `1MiB`, `1000` → `1KB`, `1500` → `1500B`: the largest unit that divides the size exactly. */
export function formatSize(bytes: number): string {
  for (const unit of ['GiB', 'GB', 'MiB', 'MB', 'KiB', 'KB'] as const) {
    const factor = Number(UNIT_BYTES[unit]);
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}B`;
}

/** Whether a field of the spec holds a size: by the naming rule of the spec language, its name ends in `_bytes`. */
export function isSizeField(name: string | number): boolean {
  return typeof name === 'string' && name.endsWith('_bytes');
}
