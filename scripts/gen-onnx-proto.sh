#!/usr/bin/env bash
# Regenerates src/graph/proto/onnx_pb.ts from onnx.proto with protoc-gen-es (v2).
#
# The generated file is committed; at run time vlmkit depends only on @bufbuild/protobuf.
# The generator tools are installed into a scratch folder outside the repository so that the
# project's node_modules stays untouched.
#
# Usage: scripts/gen-onnx-proto.sh <path/to/onnx.proto>
#   onnx.proto comes from https://github.com/onnx/onnx (file onnx/onnx.proto; the committed output
#   was made from commit f7546912001bc31e92a238b17068a21b373d882e, IR_VERSION 14).
set -euo pipefail

proto="${1:?usage: $0 <path/to/onnx.proto>}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init -y >/dev/null
# protoc-gen-es must match the @bufbuild/protobuf version in package.json.
npm install --silent @bufbuild/buf@1.75.0 @bufbuild/protoc-gen-es@2.17.0 @bufbuild/protobuf@2.17.0

mkdir proto
cp "$proto" proto/onnx.proto
printf 'version: v2\n' >proto/buf.yaml
cat >buf.gen.yaml <<'YAML'
version: v2
plugins:
  - local: protoc-gen-es
    out: gen
    opt: target=ts,import_extension=js
YAML
PATH="$work/node_modules/.bin:$PATH" npx buf generate proto

mkdir -p "$repo/src/graph/proto"
cp gen/onnx_pb.ts "$repo/src/graph/proto/onnx_pb.ts"
echo "wrote src/graph/proto/onnx_pb.ts"
