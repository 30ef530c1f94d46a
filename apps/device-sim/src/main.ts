#!/usr/bin/env node
/** Entry point of `device-sim` (see cli.ts). SIGINT/SIGTERM stop the devices; a second one kills. */
import { runCli } from './cli';

const controller = new AbortController();
const stop = () => controller.abort();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

void runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: controller.signal }).then((code) => {
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  process.exitCode = code;
});
