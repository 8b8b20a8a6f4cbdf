#!/usr/bin/env node
// The `tally` command. Everything it does lives in ./run.ts, so tests can drive it in-process too.
import { processIo } from './io.js';
import { run } from './run.js';

process.exitCode = await run(process.argv.slice(2), processIo());
