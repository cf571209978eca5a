import { UsageError } from '../../engine/errors.ts';
import { s3Client } from '../../generator/deploy/aws-clients.ts';
import { publishFunction } from '../../generator/deploy/publish.ts';
import { packageFunction, zipPackage } from '../../generator/package-function.ts';
import type { FunctionZip, PackagedFunction } from '../../generator/package-function.ts';
import { displayPath } from '../files.ts';
import { reportPackagingError } from './deploy-failure.ts';

export interface PackageOptions {
  outDir?: string;
  /** `--zip`: also write `<sha256>.zip`. */
  zip: boolean;
  /** `--bucket`: upload the zip there (implies `zip`) and write `template.yaml` pointing at it. */
  bucket?: string;
  prefix?: string;
  endpoint?: string;
}

/**
 * `ingest package <spec> --out <dir> [--zip] [--bucket B [--prefix P]]`: writes the function
 * package, its zip, uploads it and writes its template. Resolves to 1 when the spec is invalid or
 * has a sink the runtime cannot run yet, or when the upload or the template fails.
 */
export async function packageCommand(positionals: readonly string[], options: PackageOptions, out: (text: string) => void, err: (text: string) => void = out): Promise<number> {
  if (positionals.length !== 1) throw new UsageError('package needs exactly one spec file');
  if (!options.outDir) throw new UsageError('package needs --out <directory>');
  if (options.prefix !== undefined && options.bucket === undefined) throw new UsageError('--prefix needs --bucket');
  const spec = positionals[0]!;
  try {
    if (options.bucket !== undefined) {
      const published = await publishFunction(spec, options.outDir, displayPath(spec), { s3: s3Client(options), bucket: options.bucket, ...(options.prefix === undefined ? {} : { prefix: options.prefix }) });
      printPackage(spec, published.packaged, published.zip, out);
      out(`${published.code.uploaded ? 'uploaded' : 'already uploaded (same content)'} s3://${published.code.bucket}/${published.code.key}`);
      out(`template ${displayPath(published.templatePath)} (function code s3://${published.code.bucket}/${published.code.key})`);
      for (const note of published.notes) err(`note: ${note}`);
      return 0;
    }
    const packaged = await packageFunction(spec, options.outDir, displayPath(spec));
    printPackage(spec, packaged, options.zip ? await zipPackage(packaged) : undefined, out);
    return 0;
  } catch (error) {
    return reportPackagingError('package', spec, error, out, err);
  }
}

/** The files of the package with their sizes, the bundle's total and the zip's size. */
export function printPackage(spec: string, packaged: PackagedFunction, zip: FunctionZip | undefined, out: (text: string) => void): void {
  out(`packaged ${displayPath(spec)} into ${displayPath(packaged.directory)} (handler index.handler):`);
  for (const file of packaged.files) out(`  ${file.name.padEnd(16)} ${kibibytes(file.bytes)}`);
  out(`  ${'bundle'.padEnd(16)} ${kibibytes(packaged.files.reduce((total, file) => total + file.bytes, 0))}`);
  if (zip) out(`  ${'zip'.padEnd(16)} ${kibibytes(zip.bytes)}  ${zip.name}`);
}

function kibibytes(bytes: number): string {
  return `${(bytes / 1024).toFixed(1).padStart(8)} KiB`;
}
