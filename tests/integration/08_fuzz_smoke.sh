#!/usr/bin/env bash
# Every libFuzzer driver builds and runs briefly over its seed corpus
# (make fuzz FUZZ_SECONDS=N runs them longer).
top=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-4} "$top/tests/fuzz/run"
