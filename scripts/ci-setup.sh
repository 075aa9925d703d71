#!/usr/bin/env bash
# CI setup beyond Deno, MariaDB and Redis (which .ci/run handles): the
# headless Chromium that tests/e2e/dashboard_test.ts drives. Idempotent:
# does nothing when /usr/bin/chromium is already there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "ci-setup: chromium present: $(/usr/bin/chromium --version 2>/dev/null || true)"
  exit 0
fi
echo "ci-setup: installing chromium (Debian package)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium
/usr/bin/chromium --version
