#!/usr/bin/env bash
# Renders a deployment file: replaces each ${NAME} placeholder (listed in
# docs/deploy.md) with the value of that environment variable and prints
# the result. Fails, naming them, when any placeholder's variable is unset
# or empty, so no half-rendered file reaches AWS.
#   deploy/render.sh deploy/ecs-client-task.json > dist/ecs-client-task.json
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1" ]; then
  echo "usage: deploy/render.sh FILE" >&2
  exit 2
fi
names=$(grep -o '\${[A-Z][A-Z0-9_]*}' "$1" | sort -u | tr -d '${}' || true)
missing=()
for name in $names; do
  [ -n "${!name:-}" ] || missing+=("$name")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "render: $1 needs ${missing[*]}: export them first (see docs/deploy.md)" >&2
  exit 1
fi
# Only the listed placeholders are replaced; any other $ stays as it is.
envsubst "$(printf '${%s} ' $names)" <"$1"
