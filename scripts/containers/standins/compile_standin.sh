#!/bin/sh
# Stand-in for `deno task compile PROGRAM...` (scripts/compile.ts), which
# needs denort: writes dist/eth-PROGRAM, a shell launcher carrying the deno
# binary, the sources and their cached dependencies; on first start it
# unpacks them under $TMPDIR and runs the program with `deno run` and the
# permissions of its deno task, as the compiled binary would.
set -eu
deno=/usr/local/lib/deno-standin/deno
echo "deno task compile (stand-in): denort cannot be downloaded here; building a launcher that runs the program with deno run" >&2
mkdir -p dist
for program in "$@"; do
  entry="$program.ts"
  flags=$("$deno" eval --quiet "const t = JSON.parse(Deno.readTextFileSync('deno.json')).tasks['$program']; console.log(t.split(/\s+/).filter((f) => /^--(allow|deny)-/.test(f)).join(' '))")
  stage=$(mktemp -d)
  mkdir -p "$stage/src" "$stage/deno-dir"
  tar -C . --exclude=./dist -cf - . | tar -C "$stage/src" -xf -
  # Fetched into the build's cache mount (kept between builds), then the
  # launcher carries a copy of it.
  "$deno" cache --quiet --config "$stage/src/deno.json" "$stage/src/$entry" "$stage/src/lib/store/writer_worker.ts"
  cp -a "${DENO_DIR:-/deno-dir}/." "$stage/deno-dir/"
  cp "$deno" "$stage/deno"
  printf 'ENTRY=%s\nFLAGS="%s"\n' "$entry" "$flags" > "$stage/launch.env"
  out="dist/eth-$program"
  cat /usr/local/lib/deno-standin/launcher_head.sh > "$out"
  tar -C "$stage" -czf - . >> "$out"
  chmod 755 "$out"
  rm -rf "$stage"
  echo "compiled $out (stand-in launcher, $(du -m "$out" | cut -f1) MiB)" >&2
done
