#!/usr/bin/env node
import { main } from "../dist/cli/main.js";

main(process.argv).catch((error) => {
  process.stderr.write(`vlmkit: ${error?.message ?? error}\n`);
  process.exitCode = 1;
});
