// Numeric flags are parsed strictly: NaN, fractions, blanks and out-of-range values are refused with
// the flag and the value, through commander as the real commands register them.
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { ask, classify, pull, serve, shapes, tiny } from "../../src/cli/commands/index.js";
import { closestFlag, int, num } from "../../src/cli/parse.js";
import { spawnCli } from "../helpers/spawn-cli.js";

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

  /** The options and positionals the real command's action receives. */
  function parsed(
    register: (p: Command) => void,
    argv: string[],
  ): { positionals: unknown[]; opts: Record<string, unknown> } {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    register(program);
    let result: { positionals: unknown[]; opts: Record<string, unknown> } | undefined;
    for (const cmd of program.commands) {
      cmd.exitOverride().action((...a: unknown[]) => {
        result = { positionals: a.slice(0, -2), opts: a.at(-2) as Record<string, unknown> };
      });
    }
    program.parse(argv, { from: "user" });
    return result!;
  }

  it("--stop, --file and --task repeat and take one value each, leaving the positionals alone", () => {
    const a = parsed(ask, ["ask", "a.png", "--stop", ".", "what is it?", "--stop", "!", "--adapter", "x"]);
    expect(a.positionals).toEqual([["a.png", "what is it?"]]);
    expect(a.opts.stop).toEqual([".", "!"]);
    const p = parsed(pull, ["pull", "--file", "a.gguf", "org/repo", "--file", "b.gguf"]);
    expect(p.positionals).toEqual(["org/repo"]);
    expect(p.opts.file).toEqual(["a.gguf", "b.gguf"]);
    const s = parsed(shapes, ["shapes", "--task", "color", "out", "--task", "caption"]);
    expect(s.positionals).toEqual(["out"]);
    expect(s.opts.task).toEqual(["color", "caption"]);
    expect(parseError(shapes, ["shapes", "out", "--task", "size"])).toMatch(
      /--task "size"; expected one of color, shape, caption/,
    );
  });

  it("--port is a TCP port: 0 (any free one) to 65535", () => {
    expect(parseError(serve, ["serve", "--port", "65536"])).toMatch(
      /--port must be an integer in \[0, 65535\]/,
    );
    expect(parseError(serve, ["serve", "--port", "-1"])).toMatch(/--port must be an integer in \[0, 65535\]/);
    expect(parseError(serve, ["serve", "--port", "8080", "--encoder", "x"])).toBeUndefined();
  });

  it("closestFlag suggests near misses only", () => {
    expect(closestFlag("--label", ["--labels", "--encoder"])).toBe("--labels");
    expect(closestFlag("--max-token", ["--max-tokens", "--top-k"])).toBe("--max-tokens");
    expect(closestFlag("--zzz", ["--labels", "--encoder"])).toBeUndefined();
  });
});

describe("messages from the CLI", () => {
  it("a misspelt required option gets a did-you-mean", async () => {
    const r = await spawnCli(["classify", "a.png", "--label", "red"]).exited;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("(Did you mean --labels?)");
  });

  it("an hf: LLM offline fails with the hub's offline message, in both hf: forms", async () => {
    const env = { HF_HUB_OFFLINE: "1", HF_HUB_CACHE: "/nonexistent-vlmkit-cache" };
    const file = await spawnCli(
      [
        "ask",
        "examples/images/red-circle.png",
        "q",
        "--adapter",
        "shapes",
        "--llm",
        "hf:acme/llm-GGUF/m-Q8_0.gguf",
      ],
      env,
    ).exited;
    expect(file.code).toBe(1);
    expect(file.stderr).toMatch(
      /^vlmkit: HF_HUB_OFFLINE is set and the cache at .* does not hold "m-Q8_0.gguf" of acme\/llm-GGUF@main/,
    );
    const tag = await spawnCli(
      ["ask", "examples/images/red-circle.png", "q", "--adapter", "shapes", "--llm", "hf:acme/llm-GGUF:Q8_0"],
      env,
    ).exited;
    expect(tag.code).toBe(1);
    expect(tag.stderr).toMatch(
      /^vlmkit: HF_HUB_OFFLINE is set and --llm "hf:acme\/llm-GGUF:Q8_0" must be resolved over the network/,
    );
  });
});
