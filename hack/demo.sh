#!/usr/bin/env bash
# make demo: the main job on embedded defaults. Starts `meshperf server` (SQLite file,
# no setup) and the sample target, stores a demo profile, runs it through the API with
# live progress, prints the summary and where to look, writes the SMP result, and
# leaves the server running until Ctrl-C (DEMO_STAY=0 stops it right away).
#
# Environment: MESHPERF_DEMO_SERVER_PORT (default 9081) and MESHPERF_DEMO_TARGET_PORT
# (default 18080) move the server and the sample target off ports already taken;
# DEMO_STAY=0 stops at once. Needs curl (health checks).
set -euo pipefail
bin=${1:-bin/meshperf}
out=demo-out
mkdir -p "$out"
server_port=${MESHPERF_DEMO_SERVER_PORT:-9081}
target_port=${MESHPERF_DEMO_TARGET_PORT:-18080}
server="http://127.0.0.1:$server_port"
export MESHPERF_CONFIG="$PWD/$out/config.yaml" # the demo's own CLI context, not yours

# A fresh admin token for this demo's server (kept in demo-out/, mode 0600).
umask 077
if [ ! -s "$out/admin.token" ]; then
  echo "mpt_demo_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$out/admin.token"
fi
umask 022

pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop EXIT
trap 'echo; echo "stopping the server and the target"; exit 0' INT TERM

"$bin" target --http-addr "127.0.0.1:$target_port" --grpc-addr "" --tcp-addr "" \
  --latency longtail:2ms,20ms --response-size 256 >"$out/target.log" 2>&1 &
pids+=($!)
"$bin" server --addr "127.0.0.1:$server_port" --data-dir "$out/server-data" \
  --admin-token-file "$out/admin.token" >"$out/server.log" 2>&1 &
pids+=($!)

for url in "http://127.0.0.1:$target_port/healthz" "$server/readyz"; do
  for _ in $(seq 1 100); do curl -fsS "$url" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "$url" >/dev/null || { echo "demo: $url did not come up; see $out/*.log" >&2; exit 1; }
done

cat >"$out/demo-profile.yaml" <<YAML
name: demo
labels: {env: demo}
duration: 10s
warmup: 1s
clients:
  - endpoint_urls: [http://127.0.0.1:$target_port/echo]
    model: open
    rps: 500
    connections: 16
YAML

echo "== meshperf server on $server (SQLite in $out/server-data), target on :$target_port (long-tail latency: median 2 ms, p99 20 ms)"
"$bin" login --server "$server" --token "$(cat "$out/admin.token")" --name demo
"$bin" profile apply -f "$out/demo-profile.yaml"
echo
"$bin" run --profile demo --output smp --out "$out/result.smp.yaml"

echo "== look around"
echo "  API                $server/api/v1/results   (Authorization: Bearer \$(cat $out/admin.token))"
echo "  OpenAPI            $server/api/v1/openapi.json"
echo "  results            MESHPERF_CONFIG=$out/config.yaml $bin result list"
echo "  SMP result         $out/result.smp.yaml"
echo "  logs               $out/server.log, $out/target.log"
if [ "${DEMO_STAY:-1}" = "0" ]; then exit 0; fi
echo
echo "The server keeps running; press Ctrl-C to stop it and the target."
wait
