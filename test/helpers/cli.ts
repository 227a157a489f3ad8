// Runs the vlmkit CLI from source (node --import tsx), so tests need no build step.
import { main } from "../../src/cli/main.js";

await main(process.argv);
