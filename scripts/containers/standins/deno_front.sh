#!/bin/sh
# The stand-in's `deno`: the real binary, except `deno task compile`.
if [ "$1" = task ] && [ "$2" = compile ]; then
  shift 2
  exec /bin/sh /usr/local/lib/deno-standin/compile.sh "$@"
fi
exec /usr/local/lib/deno-standin/deno "$@"
