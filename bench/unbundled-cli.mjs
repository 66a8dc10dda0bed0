// bin/certrender, but over tsc's dist/cli/ (one module per source file) instead of the
// bundle: the profile in bench/run.ts attributes time to certrender's own modules.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
