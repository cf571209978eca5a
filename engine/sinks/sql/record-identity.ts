/**
 * How a staged row's source identity is written, so that the load transaction can compare
 * identities as text in any collation (docs/decisions/0031-exactly-once-warehouse-loads.md).
 */

const DIGITS = /^\d{1,999}$/;

/**
 * A position (a Kinesis or DynamoDB sequence number, an S3 line or element number) as staged:
 * three digits giving its length, then its digits without leading zeros. Digit strings of one
 * length compare as numbers; the prefix orders shorter numbers first. Throws a `RangeError` for
 * anything but a non-negative decimal integer.
 */
export function stagedPosition(position: string | number): string {
  const digits = String(position).replace(/^0+(?=\d)/, '');
  if (!DIGITS.test(digits)) throw new RangeError(`a position must be a non-negative decimal integer, not ${JSON.stringify(position)}`);
  return String(digits.length).padStart(3, '0') + digits;
}

/** Widths of the sub-position's fields: a KPL user record index and a line or log event index (each below 2^20 in a 1 MiB record), and the sink's ordinal. */
const SUB_WIDTHS = [7, 7, 9] as const;

/**
 * The sub-position of a record inside its source position, as 23 fixed-width digits: the user
 * record's index in a KPL aggregate, the line's or log event's index in its payload, and the
 * ordinal of this record among those the sink received from the same input record (explode and
 * fan-out), each 0 when it does not apply. Throws a `RangeError` for a field out of its width.
 */
export function stagedSubPosition(aggregateIndex: number, lineIndex: number, ordinal: number): string {
  return [aggregateIndex, lineIndex, ordinal].map((value, index) => {
    const width = SUB_WIDTHS[index]!;
    if (!Number.isSafeInteger(value) || value < 0 || String(value).length > width) throw new RangeError(`sub-position field ${index} out of range: ${value}`);
    return String(value).padStart(width, '0');
  }).join('');
}
