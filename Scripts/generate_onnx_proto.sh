#!/usr/bin/env bash
# Regenerates Sources/StrataONNX/onnx.pb.swift, the ONNX protobuf messages StrataONNX writes.
# Run it only to move to another onnx.proto; the generated file is committed, so neither CI nor a
# build needs protoc or the plugin.
#
# What it did (onnx 1.23.2 from Benchmarks/.venv, swift-protobuf 1.39.0):
#   1. protoc from Debian:                        apt-get install -y protobuf-compiler
#   2. protoc-gen-swift built from swift-protobuf  1.39.0 (the version Package.swift requires) in a
#      scratch folder that .gitignore covers (`.build-*/`), never in .build
#   3. protoc --swift_out on onnx.proto as the onnx PyPI package ships it (proto2, package "onnx":
#      types Onnx_ModelProto, Onnx_GraphProto, …), with internal visibility.
#
# Usage: Scripts/generate_onnx_proto.sh [PATH/TO/onnx.proto]
set -euo pipefail
cd "$(dirname "$0")/.."
proto=${1:-$(ls Benchmarks/.venv/lib/python3*/site-packages/onnx/onnx.proto | head -1)}
scratch=.build-protoc
command -v protoc >/dev/null || { echo "protoc missing: apt-get install -y protobuf-compiler" >&2; exit 1; }
if [ ! -x "$scratch/build/release/protoc-gen-swift" ]; then
    [ -d "$scratch/swift-protobuf" ] || git clone -q --depth 1 --branch 1.39.0 https://github.com/apple/swift-protobuf "$scratch/swift-protobuf"
    swift build -c release --product protoc-gen-swift --package-path "$scratch/swift-protobuf" --scratch-path "$scratch/build"
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp "$proto" "$work/onnx.proto"
protoc --plugin=protoc-gen-swift="$scratch/build/release/protoc-gen-swift" --proto_path="$work" \
    --swift_opt=Visibility=Internal --swift_out="$work" "$work/onnx.proto"
mv "$work/onnx.pb.swift" Sources/StrataONNX/onnx.pb.swift
echo "wrote Sources/StrataONNX/onnx.pb.swift from $proto ($(protoc --version))"
