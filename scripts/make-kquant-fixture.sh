#!/usr/bin/env bash
# Makes the K-quant and BF16 GGUF fixtures in test/fixtures/gguf/ with an independent quantizer:
# llama.cpp's own llama-quantize, built from the llama.cpp source that ships inside node-llama-cpp
# by scripts/llama-tools.ts (cached outside the clone, built once per machine).
#
# The F32 inputs are tiny gemma3 models written by src/tiny/gemma3.ts with fixed seeds and dims
# (recorded in fixtures.json); the tests regenerate them to compare against the dequantized values,
# so a change to the tiny-model generator shows up as a fixture mismatch.
#
# Usage: scripts/make-kquant-fixture.sh [path/to/llama-quantize]
#   or   LLAMA_QUANTIZE=path/to/llama-quantize scripts/make-kquant-fixture.sh
# Without one, `npm run llama-tools` builds (or finds in its cache) the one of the bundled commit.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$repo/test/fixtures/gguf"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

quantize="${1:-${LLAMA_QUANTIZE:-}}"
if [[ -z "$quantize" ]]; then
  quantize="$(cd "$repo" && node --import tsx scripts/llama-tools.ts --tools llama-quantize | awk '{print $2}')"
fi

mkdir -p "$out"
# Row lengths of 256 (QK_K) so that every 2-D tensor can take a K-quant; one layer keeps files small.
kquant_dims='{"embedding":256,"layers":1,"heads":2,"kvHeads":1,"headDim":128,"ff":256,"contextLength":512,"slidingWindow":16,"slidingWindowPattern":2}'
cat >"$out/fixtures.json" <<JSON
{
  "kquant": { "seed": 5, "zeroResiduals": true, "dims": $kquant_dims },
  "bf16": { "seed": 6, "zeroResiduals": true, "dims": {} },
  "files": {
    "kquant-q4_k_m.gguf": { "source": "kquant", "ftype": "Q4_K_M", "tokenEmbeddingType": "q4_K" },
    "kquant-q5_k_m.gguf": { "source": "kquant", "ftype": "Q5_K_M", "tokenEmbeddingType": "q5_K" },
    "kquant-q6_k.gguf": { "source": "kquant", "ftype": "Q6_K", "tokenEmbeddingType": "q6_K" },
    "tiny-bf16.gguf": { "source": "bf16", "ftype": "BF16", "tokenEmbeddingType": "bf16" }
  }
}
JSON

cd "$repo"
node --import tsx --input-type=module -e "
import fs from 'node:fs';
import { writeTinyGemma3Gguf } from './src/tiny/gemma3.ts';
const spec = JSON.parse(fs.readFileSync('$out/fixtures.json', 'utf8'));
for (const name of ['kquant', 'bf16']) {
  const { seed, zeroResiduals, dims } = spec[name];
  await writeTinyGemma3Gguf('$work/' + name + '-f32.gguf', { seed, zeroResiduals, dims, type: 'f32' });
}
"

node -e "
const spec = JSON.parse(require('fs').readFileSync('$out/fixtures.json', 'utf8'));
for (const [file, f] of Object.entries(spec.files)) console.log([file, f.source, f.ftype, f.tokenEmbeddingType].join(' '));
" | while read -r file source ftype embd; do
  # The token embedding type is forced so that token_embd (read by get_rows, the path the tests
  # compare against) has the type under test; llama-quantize would otherwise pick Q6_K for it.
  "$quantize" --token-embedding-type "$embd" "$work/$source-f32.gguf" "$out/$file" "$ftype" 2 >"$work/$file.log" 2>&1 ||
    { cat "$work/$file.log" >&2; exit 1; }
  echo "$file: $(stat -c %s "$out/$file") bytes" >&2
done
