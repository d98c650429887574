#!/usr/bin/env bash
# make demo: start the sample target, run a 10 s open-model test against it, print the
# summary, write the SMP result (and the full result it points to), stop the target.
set -euo pipefail
bin=${1:-bin/meshperf}
out=demo-out
mkdir -p "$out"
port=${MESHPERF_DEMO_PORT:-18080}

"$bin" target --http-addr "127.0.0.1:$port" --grpc-addr "" --tcp-addr "" \
  --latency longtail:2ms,20ms --response-size 256 >"$out/target.log" 2>&1 &
target_pid=$!
trap 'kill $target_pid 2>/dev/null; wait $target_pid 2>/dev/null || true' EXIT

for _ in $(seq 1 50); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
  sleep 0.1
done

echo "== meshperf target on 127.0.0.1:$port (long-tail latency: median 2 ms, p99 20 ms)"
"$bin" run --name demo --url "http://127.0.0.1:$port/echo" --model open --rate 500 \
  --connections 16 --duration 10s --warmup 1s \
  --output smp --out "$out/result.smp.yaml" --details "$out/result.json"
echo
echo "== files"
echo "  $out/result.smp.yaml   the SMP PerformanceTestResult"
echo "  $out/result.json       the full result (per-second HDR histograms) that details_uri points to"
echo
echo "== what the target received (/stats)"
curl -fsS "http://127.0.0.1:$port/stats"
