#!/usr/bin/env bash
# Start a private PostgreSQL server on a free local port; print shell exports for its URL.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
dir=$(mktemp -d /tmp/ganaudit-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
run "$bin/initdb -D $dir/data -U ganaudit --auth=trust >/dev/null"
run "$bin/pg_ctl -D $dir/data -o '-p $port -k $dir -c listen_addresses=127.0.0.1' -l $dir/log -w start >/dev/null"
run "$bin/createdb -h 127.0.0.1 -p $port -U ganaudit ganaudit_test"
echo "export GANAUDIT_PG_DIR=$dir"
echo "export GANAUDIT_TEST_PG_URL=postgresql+psycopg://ganaudit@127.0.0.1:$port/ganaudit_test"
