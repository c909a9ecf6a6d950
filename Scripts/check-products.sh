#!/usr/bin/env bash
# Checks, from SwiftPM's own package graph, which C libraries each library product links: a user who
# needs tensors and autograd (StrataTensor, StrataNN, StrataModels) must not link oneDNN, libpng,
# libjpeg-turbo, zlib or MPI. Prints the table; exits 1 when a product links more than it may.
set -euo pipefail
cd "$(dirname "$0")/.."
swift package describe --type json 2>/dev/null | python3 -c '
import json, sys
pkg = json.load(sys.stdin)
targets = {t["name"]: t for t in pkg["targets"]}
c_modules = {"_CDNNL": "oneDNN", "_CImage": "libjpeg-turbo + libpng", "_CZlib": "zlib", "_CMPI": "Open MPI"}
allowed = {"StrataTensor": set(), "StrataNN": set(), "StrataModels": set(), "StrataPretrained": set(),
           "StrataImage": {"_CImage"}, "StrataPlot": {"_CImage"}, "StrataData": {"_CImage", "_CZlib"}, "StrataTraining": {"_CImage", "_CZlib"},
           "StrataDNNL": {"_CDNNL"}, "StrataDistributed": {"_CMPI"}}
def closure(name, seen):
    if name in seen or name not in targets: return seen
    seen.add(name)
    for d in targets[name].get("target_dependencies", []): closure(d, seen)
    return seen
bad = 0
for p in pkg["products"]:
    if "library" not in p["type"]: continue
    deps = set()
    for t in p["targets"]: closure(t, deps)
    links = sorted(d for d in deps if d in c_modules)
    extra = set(links) - allowed.get(p["name"], set(links))
    names = ", ".join(c_modules[l] for l in links) or "no C library"
    print(p["name"].ljust(18), "links", names, ("  <- not allowed: %s" % sorted(extra)) if extra else "")
    bad |= bool(extra)
sys.exit(1 if bad else 0)
'
