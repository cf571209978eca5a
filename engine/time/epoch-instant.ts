/**
 * Numbers as points in time, read one way everywhere a number may be a time: the `date`
 * template helper, `cast: { field: timestamp }` and CEL's `timestamp(double)`. Decided in
 * docs/decisions/0023-epoch-numbers.md: the unit follows from the magnitude.
 *
 * | absolute value     | unit         | covers (each band, in its unit)  |
 * | ------------------ | ------------ | -------------------------------- |
 * | below 10^11        | seconds      | up to 5138-11-16                 |
 * | below 10^14        | milliseconds | 1973-03-03 to 5138-11-16         |
 * | below 10^17        | microseconds | 1973-03-03 to 5138-11-16         |
 * | from 10^17         | nanoseconds  | 1973-03-03 on                    |
 *
 * So `1772360000`, `1772360000000`, `1772360000000000` and `1772360000000000000` are all
 * 2026-03-01T10:13:20Z. The price: a time in milliseconds before 1973-03-03 (below 10^11 ms)
 * reads as seconds.
 */

/** Epoch magnitudes at which the unit steps up: seconds → milliseconds → microseconds → nanoseconds. */
const EPOCH_UNITS: readonly { below: number; perSecond: number }[] = [
  { below: 1e11, perSecond: 1 },
  { below: 1e14, perSecond: 1e3 },
  { below: 1e17, perSecond: 1e6 },
  { below: Infinity, perSecond: 1e9 },
];

/** A point in time as whole seconds since the epoch and the microseconds within that second. */
export interface EpochInstant {
  /** Whole seconds since 1970-01-01T00:00:00Z (floor, so negative times have `micros` ≥ 0). */
  seconds: number;
  /** 0 to 999,999. */
  micros: number;
}

/**
 * The instant an epoch number denotes, its unit chosen by magnitude (see the table above),
 * kept to microseconds. `undefined` for NaN and ±Infinity.
 */
export function epochInstant(value: number): EpochInstant | undefined {
  if (!Number.isFinite(value)) return undefined;
  const magnitude = Math.abs(value);
  let unit = EPOCH_UNITS[0]!;
  for (let index = 1; magnitude >= unit.below; index++) unit = EPOCH_UNITS[index]!;
  let seconds = Math.floor(value / unit.perSecond);
  let micros = Math.round(((value - seconds * unit.perSecond) * 1e6) / unit.perSecond);
  if (micros >= 1e6) {
    seconds += 1;
    micros -= 1e6;
  }
  return { seconds, micros };
}

/**
 * The instant an epoch number denotes, as a Date (milliseconds; finer digits are dropped).
 * `undefined` for NaN, ±Infinity and instants a Date cannot hold.
 */
export function epochDate(value: number): Date | undefined {
  const instant = epochInstant(value);
  if (instant === undefined) return undefined;
  const date = new Date(instant.seconds * 1000 + Math.floor(instant.micros / 1000));
  return Number.isNaN(date.getTime()) ? undefined : date;
}
