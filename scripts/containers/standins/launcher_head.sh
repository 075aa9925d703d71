#!/bin/sh
# Stand-in for a deno compile binary (see scripts/containers/standins): the
# archive after this script holds deno, the sources and their dependencies.
set -eu
self=$0
sum=$(cksum "$self" | cut -d' ' -f1)
dir="${TMPDIR:-/tmp}/.eth-launcher-$sum"
if [ ! -f "$dir/.ready" ]; then
  mkdir -p "$dir"
  skip=$(awk '/^__ARCHIVE__$/ { print NR + 1; exit }' "$self")
  tail -n +"$skip" "$self" | tar -C "$dir" -xzf -
  touch "$dir/.ready"
fi
. "$dir/launch.env"
export DENO_DIR="$dir/deno-dir" DENO_NO_UPDATE_CHECK=1
# shellcheck disable=SC2086
exec "$dir/deno" run --cached-only --config "$dir/src/deno.json" $FLAGS "$dir/src/$ENTRY" "$@"
__ARCHIVE__
