# Sourced by ./plan, ./test and .ci/run with a profile: `plan` (the program's runtime lock only) or
# `dev` (plus tests and linters). Creates .venv, bootstraps the pinned uv with pip (hash-checked),
# then installs the hash-pinned locks with uv; again only when a lock changes. Both profiles also
# get .venv-nca, the NetworkPolicy analyzer's own venv (maintenance/nca.txt), for the reachability table;
# the dev profile also .venv-checkov, the Kubernetes manifest scanner's (maintenance/checkov.txt).
set -euo pipefail
# Some images (this one, some CI runners) set PYTHONDONTWRITEBYTECODE: then every run of the plan,
# each of the tests' ~30 plan subprocesses and each analyzer run compiles pulumi-aws/-kubernetes
# and the tools from source again (a plan 11 s instead of 6 s). Our venvs keep their bytecode:
# written on first import, only for the modules actually used.
export PYTHONDONTWRITEBYTECODE=
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON_BIN="${PYTHON:-python3}"
profile="${1:-dev}"
locks=("$ROOT/requirements.txt")
if [ "$profile" = dev ]; then locks+=("$ROOT/requirements-dev.txt"); fi
want="$(cat "${locks[@]}" "$ROOT/maintenance/uv.txt" | sha256sum | cut -d' ' -f1)"
dev_want="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" "$ROOT/maintenance/uv.txt" | sha256sum | cut -d' ' -f1)"
have_plan="$(cat "$VENV/.installed-plan" 2>/dev/null || true)"
have_dev="$(cat "$VENV/.installed-dev" 2>/dev/null || true)"
# The dev install includes the runtime lock, so it satisfies `plan` too.
# Tools whose exact pins clash with ours get a venv each, from their own hash-pinned lock:
# .venv-nca (the NetworkPolicy analyzer, both profiles) and .venv-checkov (the scanner, dev only).
install_tool_venv() {  # name lock
  local venv="$ROOT/.venv-$1" lock="$ROOT/maintenance/$2" tool_want
  tool_want="$(sha256sum < "$lock" | cut -d' ' -f1)"
  if [ "$(cat "$venv/.installed" 2>/dev/null || true)" != "$tool_want" ]; then
    echo "installing $1 into $venv" >&2
    "$VENV/bin/uv" venv --quiet --allow-existing --python "$VENV/bin/python" "$venv"
    "$VENV/bin/uv" pip install --quiet --python "$venv/bin/python" --require-hashes -r "$lock"
    echo "$tool_want" > "$venv/.installed"
  fi
}
install_tools() {
  install_tool_venv nca nca.txt
  if [ "$profile" = dev ]; then install_tool_venv checkov checkov.txt; fi
}
if [ "$have_dev" = "$dev_want" ] || { [ "$profile" = plan ] && [ "$have_plan" = "$want" ]; }; then
  install_tools
  return 0 2>/dev/null || exit 0
fi
if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "python3 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
    exit 1
  }
  echo "creating $VENV" >&2
  rm -rf "$VENV"
  "$PYTHON_BIN" -m venv "$VENV"
fi
if ! cmp -s "$ROOT/maintenance/uv.txt" "$VENV/.uv.txt"; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$ROOT/maintenance/uv.txt"
  cp "$ROOT/maintenance/uv.txt" "$VENV/.uv.txt"
fi
echo "installing the locked requirements ($profile) into $VENV" >&2
args=()
for lock in "${locks[@]}"; do args+=(-r "$lock"); done
"$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" --require-hashes "${args[@]}"
echo "$want" > "$VENV/.installed-$profile"
install_tools
