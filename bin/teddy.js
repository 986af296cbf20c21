#!/usr/bin/env node
// Runs the TypeScript CLI directly: tsx compiles it on load, so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../daemon/cli.ts');
process.exitCode = await main(process.argv);
