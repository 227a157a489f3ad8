// Each command module exports `register(program)`; list them here in the order `--help` shows them.
export {};
