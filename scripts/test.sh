#!/usr/bin/env bash
# Set up a fresh machine and run the whole test suite (README's test command).
#   - Debian packages: chromium (browser tests), postgresql (answers-store tests)
#   - a virtual environment in .venv with ganaudit and its test extra
#   - a throw-away PostgreSQL server on a local port for the database tests
#   - pytest under the TensorFlow backend, then the training tests again under JAX
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q -U pip
.venv/bin/python -m pip install -q -e ".[test]"

# PostgreSQL for the answers-store tests, stopped again when this script ends.
eval "$(bash scripts/start-postgres.sh)"
trap 'bash scripts/stop-postgres.sh "$GANAUDIT_PG_DIR" || true' EXIT
export GANAUDIT_TEST_PG_URL

export CHROMIUM_PATH="$(command -v chromium)"
status=0
KERAS_BACKEND=tensorflow .venv/bin/python -m pytest -q -p no:cacheprovider "$@" || status=$?
KERAS_BACKEND=jax .venv/bin/python -m pytest -q -p no:cacheprovider -m training "$@" || status=$?
exit $status
