import { main } from './main.ts';

// The process entry point. Anything reaching here is a bug in Ingest, not a user error:
// say so in one line, and show the stack only when asked.
// A closed pipe (`ingest test examples/ | head`) means the reader has seen enough.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

// No top-level await: the build makes this module a CommonJS bundle (docs/decisions/0059-cli-code-cache.md).
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ingest: internal error: ${(error as Error)?.message ?? String(error)}\n`);
    if (process.env.INGEST_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    else process.stderr.write('Set INGEST_DEBUG=1 for details, and please report this.\n');
    process.exitCode = 70;
  },
);
