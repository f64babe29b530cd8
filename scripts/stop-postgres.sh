#!/usr/bin/env bash
# Stop a server started by start-postgres.sh and remove its folder.
set -u
dir=$1
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/bash -c "$bin/pg_ctl -D $dir/data -m fast -w stop" >/dev/null 2>&1
else
    "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1
fi
rm -rf "$dir"
