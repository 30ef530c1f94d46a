import { buildProgram } from './cli';

// `node dist/apps/fleetctl/src/main.js <command>` (or `npm run fleetctl -- <command>`).
// Exit codes: see README.md. process.exitCode, not process.exit(): pending output is flushed.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  // `fleetctl device list | head`: the reader went away; that is not a failure of ours.
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

buildProgram({ stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() })
  .run(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
