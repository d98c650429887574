#!/usr/bin/env bash
# The GitHub Action's logic (action.yml runs this script; cmd/meshperf's action test
# runs it too, so the two cannot drift). Inputs arrive as environment variables:
#
#   MESHPERF_BIN          the meshperf binary (built by the action)
#   INPUT_MODE            run (a test file), profile (a profile on a server), gate or conformance
#   INPUT_TEST_FILE       run: the test config file
#   INPUT_PROFILE         profile: the profile name;  INPUT_SERVER, INPUT_TOKEN: the server
#   INPUT_BASELINE        gate: baseline URL or test file (or INPUT_BASELINE_RESULT)
#   INPUT_CANDIDATE       gate: candidate URL or test file
#   INPUT_ROUNDS, INPUT_MAX_ROUNDS, INPUT_MAX_REGRESSION, INPUT_METRICS   gate tuning
#   INPUT_PROFILES        conformance: profiles (SMI,MESH-HTTP,MESH-GRPC); INPUT_KUBECONFIG, INPUT_CLUSTER:
#                         the cluster; INPUT_MESH, INPUT_MESH_VERSION: the mesh; INPUT_SIGN_KEY: signing key
#   INPUT_THRESHOLDS      run/profile: thresholds, one per line
#   INPUT_ARGS            more arguments for meshperf, as one string
#   INPUT_RESULT_DIR      where results are written (default meshperf-results)
#
# Outputs (to $GITHUB_OUTPUT): result-file, summary-file, exit-code. The job summary
# goes to $GITHUB_STEP_SUMMARY. The script exits with meshperf's code: 3 a threshold
# failed or the mesh is not conformant, 4 the gate found a regression, 2 bad input, 1 could
# not run.
set -uo pipefail
bin=${MESHPERF_BIN:?MESHPERF_BIN is not set}
mode=${INPUT_MODE:-run}
dir=${INPUT_RESULT_DIR:-meshperf-results}
mkdir -p "$dir"
summary="$dir/summary.md"
extra=()
if [ -n "${INPUT_ARGS:-}" ]; then read -r -a extra <<<"$INPUT_ARGS"; fi
thresholds=()
while IFS= read -r t; do
  t="${t#"${t%%[![:space:]]*}"}"; [ -n "$t" ] && thresholds+=(--threshold "$t")
done <<<"${INPUT_THRESHOLDS:-}"

case "$mode" in
  run)
    [ -n "${INPUT_TEST_FILE:-}" ] || { echo "::error title=meshperf::mode run needs test-file"; exit 2; }
    result="$dir/result.json"
    "$bin" run -f "$INPUT_TEST_FILE" "${thresholds[@]}" --out "$result" --markdown "$summary" "${extra[@]}"
    code=$?
    ;;
  profile)
    [ -n "${INPUT_PROFILE:-}" ] && [ -n "${INPUT_SERVER:-}" ] || { echo "::error title=meshperf::mode profile needs profile and server"; exit 2; }
    [ -z "${INPUT_THRESHOLDS:-}" ] || { echo "::error title=meshperf::thresholds of a server profile live in the profile"; exit 2; }
    result="$dir/result.json"
    MESHPERF_TOKEN="${INPUT_TOKEN:-}" "$bin" run --profile "$INPUT_PROFILE" --server "$INPUT_SERVER" \
      --out "$result" --markdown "$summary" "${extra[@]}"
    code=$?
    ;;
  gate)
    result="$dir/gate.json"
    base=(--baseline "${INPUT_BASELINE:-}")
    [ -n "${INPUT_BASELINE_RESULT:-}" ] && base=(--baseline-result "$INPUT_BASELINE_RESULT")
    gate_args=(--candidate "${INPUT_CANDIDATE:-}" --rounds "${INPUT_ROUNDS:-5}" --max-regression "${INPUT_MAX_REGRESSION:-5%}"
      --junit "$dir/gate.junit.xml" --summary "$summary" -o json)
    [ -n "${INPUT_METRICS:-}" ] && gate_args+=(--metric "$INPUT_METRICS")
    [ -n "${INPUT_MAX_ROUNDS:-}" ] && gate_args+=(--max-rounds "$INPUT_MAX_ROUNDS")
    # meshperf gate appends to $GITHUB_STEP_SUMMARY itself; keep it from doing so twice.
    GITHUB_STEP_SUMMARY= "$bin" gate "${base[@]}" "${gate_args[@]}" "${extra[@]}" >"$result"
    code=$?
    ;;
  conformance)
    [ -n "${INPUT_PROFILES:-}" ] || { echo "::error title=meshperf::mode conformance needs profiles"; exit 2; }
    result="$dir/conformance.yaml"
    conf_args=(--profile "$INPUT_PROFILES" --out "$result" --markdown "$summary" --junit "$dir/conformance.junit.xml")
    [ -n "${INPUT_KUBECONFIG:-}" ] && conf_args+=(--kubeconfig "$INPUT_KUBECONFIG")
    [ -n "${INPUT_CLUSTER:-}" ] && conf_args+=(--cluster "$INPUT_CLUSTER")
    [ -n "${INPUT_MESH:-}" ] && conf_args+=(--mesh "$INPUT_MESH")
    [ -n "${INPUT_MESH_VERSION:-}" ] && conf_args+=(--mesh-version "$INPUT_MESH_VERSION")
    MESHPERF_CONFORMANCE_KEY="${INPUT_SIGN_KEY:-}" "$bin" conformance run "${conf_args[@]}" "${extra[@]}"
    code=$?
    ;;
  *)
    echo "::error title=meshperf::mode must be run, profile, gate or conformance, not $mode"; exit 2 ;;
esac

if [ -s "$summary" ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$summary" >>"$GITHUB_STEP_SUMMARY"; fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { echo "result-file=$result"; echo "summary-file=$summary"; echo "exit-code=$code"; } >>"$GITHUB_OUTPUT"
fi
exit "$code"
