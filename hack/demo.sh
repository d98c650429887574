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

# wait_for NAME PID URL PORTVAR: wait until URL answers from the process we started
# (its X-Meshperf-Pid header is PID). The demo must measure its own target: if the
# process exits (a taken port) or another process answers on the port, fail loudly.
wait_for() {
  local name=$1 pid=$2 url=$3 portvar=$4 port hdr got
  port=${url##*:}; port=${port%%/*}
  for _ in $(seq 1 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "demo: the $name exited before $url answered: is port $port already taken? (set $portvar to use another)" >&2
      tail -n 3 "$out/$name.log" >&2
      exit 1
    fi
    if hdr=$(curl -fsS -D - -o /dev/null "$url" 2>/dev/null); then
      got=$(printf '%s\n' "$hdr" | tr -d '\r' | awk -F': *' 'tolower($1) == "x-meshperf-pid" { print $2 }')
      if [ "$got" != "$pid" ]; then
        echo "demo: port $port answers $url, but not from the $name started here (pid $pid, the answer says '${got:-none}'):" \
          "another process holds port $port; stop it or set $portvar to use another" >&2
        exit 1
      fi
      return 0
    fi
    sleep 0.1
  done
  echo "demo: $url did not come up; see $out/$name.log" >&2
  exit 1
}

"$bin" target --http-addr "127.0.0.1:$target_port" --grpc-addr "" --tcp-addr "" \
  --latency longtail:2ms,20ms --response-size 256 >"$out/target.log" 2>&1 &
target_pid=$!
pids+=("$target_pid")
"$bin" server --addr "127.0.0.1:$server_port" --data-dir "$out/server-data" \
  --admin-token-file "$out/admin.token" >"$out/server.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")

wait_for target "$target_pid" "http://127.0.0.1:$target_port/healthz" MESHPERF_DEMO_TARGET_PORT
wait_for server "$server_pid" "$server/readyz" MESHPERF_DEMO_SERVER_PORT

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
echo "  web UI             $server/   (log in with the token in $out/admin.token)"
echo "  API                $server/api/v1/results   (Authorization: Bearer \$(cat $out/admin.token))"
echo "  OpenAPI            $server/api/v1/openapi.json"
echo "  results            MESHPERF_CONFIG=$out/config.yaml $bin result list"
echo "  SMP result         $out/result.smp.yaml"
echo "  logs               $out/server.log, $out/target.log"
if [ "${DEMO_STAY:-1}" = "0" ]; then exit 0; fi
echo
echo "The server keeps running; press Ctrl-C to stop it and the target."
wait
