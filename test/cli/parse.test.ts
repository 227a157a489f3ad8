// Numeric flags are parsed strictly: NaN, fractions, blanks and out-of-range values are refused with
// the flag and the value, through commander as the real commands register them.
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { classify, serve, tiny } from "../../src/cli/commands/index.js";
import { int, num } from "../../src/cli/parse.js";

describe("num / int", () => {
  it("accept numbers in range and refuse everything else, naming flag, range and value", () => {
    expect(num("--p", 0, 1)("0.25")).toBe(0.25);
    expect(int("--n", -1, 5)("-1")).toBe(-1);
    expect(() => int("--threads", 1, 1024)("abc")).toThrow(
      '--threads must be an integer in [1, 1024], got "abc"',
    );
    expect(() => int("--n")("")).toThrow('got ""');
    expect(() => int("--n")("1.5")).toThrow("must be an integer");
    expect(() => num("--p", 0, 1)("2")).toThrow('--p must be a number in [0, 1], got "2"');
    expect(() => num("--p", 0, 1)("NaN")).toThrow("must be a number");
  });
});

describe("commands", () => {
  /** Parses argv with the real command registered; returns commander's error message, if any. */
  function parseError(register: (p: Command) => void, argv: string[]): string | undefined {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    register(program);
    for (const cmd of program.commands) cmd.exitOverride().action(() => {});
    try {
      program.parse(argv, { from: "user" });
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }

  it("refuse NaN for --threads, --top, --gpu-layers and --seed", () => {
    expect(parseError(classify, ["classify", "a.png", "--labels", "x", "--threads", "two"])).toMatch(
      /--threads must be an integer in \[1, 1024\], got "two"/,
    );
    expect(parseError(classify, ["classify", "a.png", "--labels", "x", "--top", "all"])).toMatch(
      /--top must be an integer/,
    );
    expect(parseError(serve, ["serve", "--gpu-layers", "max"])).toMatch(
      /--gpu-layers must be an integer in \[-1, 10000\], got "max"/,
    );
    expect(parseError(serve, ["serve", "--port", "http"])).toMatch(/--port must be an integer/);
    expect(parseError(tiny, ["tiny", "/tmp/x", "--seed", "x"])).toMatch(/--seed must be an integer/);
    expect(
      parseError(classify, ["classify", "a.png", "--labels", "x", "--top", "3", "--threads", "2"]),
    ).toBeUndefined();
  });
});
