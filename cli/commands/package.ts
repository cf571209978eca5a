import { UsageError } from '../../engine/errors.ts';
import { InvalidSpecError, packageFunction } from '../../generator/package-function.ts';
import { displayPath } from '../files.ts';
import { formatDiagnostics } from '../output.ts';

/** `ingest package <spec> --out <dir>`: writes the function package; 1 when the spec is invalid or has a sink the runtime cannot run yet. */
export async function packageCommand(positionals: readonly string[], outDir: string | undefined, out: (text: string) => void): Promise<number> {
  if (positionals.length !== 1) throw new UsageError('package needs exactly one spec file');
  if (!outDir) throw new UsageError('package needs --out <directory>');
  try {
    const packaged = await packageFunction(positionals[0]!, outDir, displayPath(positionals[0]!));
    out(`packaged ${displayPath(positionals[0]!)} into ${displayPath(packaged.directory)} (handler index.handler):`);
    for (const file of packaged.files) out(`  ${file.name.padEnd(16)} ${(file.bytes / 1024).toFixed(1)} KiB`);
    return 0;
  } catch (error) {
    if (error instanceof InvalidSpecError) {
      out(formatDiagnostics(error.diagnostics, 'text'));
      return 1;
    }
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`cannot read ${(error as NodeJS.ErrnoException).path ?? positionals[0]}: no such file or directory (for dist/lambda, run npm run build)`);
    throw error;
  }
}
