#!/usr/bin/env bash
# Prepares this machine for `deno task test`, which runs it first, and for
# .ci/run: MariaDB and Redis answering on 127.0.0.1 (root, empty password) and
# Debian's Chromium at /usr/bin/chromium for tests/e2e/dashboard_test.ts.
# Idempotent and quiet when all is there. As root it installs what is missing
# (Debian packages) and starts what is down; otherwise it names the one
# command that would, and leaves the tests to run (those needing the missing
# piece fail, the others pass).
set -uo pipefail

log() { echo "prepare: $*" >&2; }

mysql_up() { mysqladmin -uroot -h127.0.0.1 ping >/dev/null 2>&1; }
redis_up() { redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; }

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
down=()
mysql_up || down+=(MariaDB)
redis_up || down+=(Redis)

[ ${#missing[@]} -eq 0 ] && [ ${#down[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  what="${missing[*]:+missing: ${missing[*]}}${missing[*]:+${down[*]:+; }}${down[*]:+down: ${down[*]}}"
  log "${what}. Run: sudo bash $(dirname "$0")/prepare_tests.sh"
  exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  # The lists may be absent or stale on a fresh machine.
  apt-get update -qq >&2 && apt-get install -y -qq "${missing[@]}" >&2 ||
    { log "apt-get install ${missing[*]} failed"; exit 1; }
fi

if ! mysql_up; then
  log "starting MariaDB"
  install -d -o mysql -g mysql /run/mysqld 2>/dev/null
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
if ! redis_up; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
fi
for _ in $(seq 60); do
  mysql_up && redis_up && break
  sleep 1
done
mysql_up || { log "MariaDB does not answer on 127.0.0.1:3306"; exit 1; }
redis_up || { log "Redis does not answer on 127.0.0.1:6379"; exit 1; }
[ -x /usr/bin/chromium ] || { log "/usr/bin/chromium is still missing"; exit 1; }
log "ready: MariaDB, Redis, $(/usr/bin/chromium --version 2>/dev/null)"
