#!/usr/bin/env bash
# `deno task containers`: builds the three images from the Dockerfiles as
# committed and runs them on a real container engine (Docker when a daemon
# answers, podman otherwise):
#   1. a server and a client container against anvil, until the server
#      prints DATA and both HEALTHCHECKs pass;
#   2. the whole docker-compose.yml: both servers store documents from both
#      clients in MySQL and Redis, stats serves them, and server-1 stopped
#      with SIGTERM under load loses nothing it acknowledged.
# What this machine cannot supply (registry images, Deno's compile runtime)
# is built as stand-ins (bases.sh, standins/) and said so. Bounded in time,
# removes its containers, and changes no file of the repository.
set -Eeuo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
export NO_COLOR=1 DENO_NO_UPDATE_CHECK=1

START=$SECONDS
log() { echo "containers: [$((SECONDS - START))s] $*"; }
fail() {
  log "FAILED: $*"
  exit 1
}

# The whole run is bounded: a stuck engine or program ends it.
LIMIT=${ETH_CONTAINERS_LIMIT:-1200}
(
  sleep "$LIMIT"
  echo "containers: FAILED: still running after ${LIMIT}s" >&2
  kill -TERM $$
) &
WATCHDOG=$!

. "$HERE/engine.sh"
. "$HERE/bases.sh"

PROJECT=eth-containers
NET=eth-containers-net
SOLO=(eth-containers-anvil eth-containers-server eth-containers-client)
WORK=$(mktemp -d)

cleanup() {
  local code=$?
  trap - EXIT INT TERM
  kill "$WATCHDOG" 2>/dev/null || true
  if [ -n "${ENGINE:-}" ]; then
    log "cleaning up containers"
    remove "${SOLO[@]}" >/dev/null 2>&1 || true
    "$ENGINE" network rm "$NET" >/dev/null 2>&1 || true
    compose down -v -t 3 >/dev/null 2>&1 || true
    # podman-compose 1.0.3 leaves the project's network.
    "$ENGINE" network rm "${PROJECT}_default" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  exit "$code"
}
trap cleanup EXIT
# A failing command says where, rather than ending the run silently.
trap 'log "FAILED at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT TERM

COMPOSE_FILES=(-f "$ROOT/docker-compose.yml")
# Removes containers at once (podman's rm would wait 10 s for each).
remove() {
  if [ "$ENGINE" = podman ]; then podman rm -f -t 1 "$@"; else docker rm -f "$@"; fi
}

compose() {
  MYSQL_PASSWORD_FILE="$WORK/mysql_password" "${COMPOSE[@]}" -p "$PROJECT" "${COMPOSE_FILES[@]}" "$@"
}

# The container of a compose service, whatever the tool's naming.
service() {
  "$ENGINE" ps -a --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.service=$1" --format '{{.Names}}' | head -n 1
}

# healthy CONTAINER: its image's HEALTHCHECK passes. podman runs checks from
# systemd timers, which a container host without systemd lacks: run it here.
healthy() {
  if [ "$ENGINE" = podman ]; then
    podman healthcheck run "$1" >/dev/null 2>&1
  else
    [ "$(docker inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null)" = healthy ]
  fi
}

# until_true SECONDS WHAT COMMAND...: polls COMMAND each second.
until_true() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what: not within ${limit}s"
    sleep 1
  done
}

ip_of() {
  "$ENGINE" inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"
}

# DATA lines in CONTAINER's log from the address IP.
data_from() { "$ENGINE" logs "$1" 2>/dev/null | grep -c "^DATA - $2:" || true; }

choose_engine
make_bases

git_before=$(git status --porcelain)

# --- Images, from the Dockerfiles as committed ---
for pair in client:Dockerfile-client-ecs server:Dockerfile-server-beanstalk stats:Dockerfile-stats; do
  name=${pair%%:*} file=${pair#*:}
  t=$SECONDS
  build -q "${BUILD_ARGS[@]}" -f "$file" -t "eth-$name:local" . >"$WORK/build-$name.log" 2>&1 || {
    tail -n 30 "$WORK/build-$name.log"
    fail "building $file"
  }
  log "built eth-$name:local from $file ($((SECONDS - t))s)"
done
if [ ${#BUILD_ARGS[@]} -gt 0 ]; then
  log "note: the images' build stage ran the deno stand-in's 'deno task compile', which packs deno run and the sources instead of a deno compile binary (no denort here); the real deno compile is not exercised"
fi

# --- 1. A server and a client container against anvil ---
remove "${SOLO[@]}" >/dev/null 2>&1 || true
"$ENGINE" network rm "$NET" >/dev/null 2>&1 || true
"$ENGINE" network create "$NET" >/dev/null
"$ENGINE" run -d --name eth-containers-anvil --network "$NET" --entrypoint anvil \
  "$FOUNDRY_IMAGE" --host 0.0.0.0 --block-time 1 >/dev/null
"$ENGINE" run -d --name eth-containers-server --network "$NET" eth-server:local >/dev/null
"$ENGINE" run -d --name eth-containers-client --network "$NET" \
  -e ETH_CLIENT_HOST=eth-containers-server -e ETH_CLIENT_PORT=8888 \
  -e ETH_RPC_URL=http://eth-containers-anvil:8545 -e ETH_CLIENT_INTERVAL=1 eth-client:local >/dev/null
client_ip=$(ip_of eth-containers-client)
data_seen() { [ "$(data_from eth-containers-server "$client_ip")" -ge 3 ]; }
until_true 90 "server container printing DATA from the client container" data_seen
until_true 60 "server HEALTHCHECK" healthy eth-containers-server
until_true 60 "client HEALTHCHECK" healthy eth-containers-client
log "1. server and client containers: $(data_from eth-containers-server "$client_ip") DATA lines from the client, both HEALTHCHECKs pass"
remove "${SOLO[@]}" >/dev/null
"$ENGINE" network rm "$NET" >/dev/null

# --- 2. The whole docker-compose.yml ---
for port in 8080 8545 8888 8889; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "port $port is taken on this machine; docker-compose.yml publishes it"
  fi
done
if [ ${#STANDIN_SERVICES[@]} -gt 0 ]; then
  {
    echo "services:"
    for pair in "${STANDIN_SERVICES[@]}"; do
      printf '  %s:\n    image: %s\n' "${pair%%=*}" "${pair#*=}"
    done
  } >"$WORK/standins.yml"
  COMPOSE_FILES+=(-f "$WORK/standins.yml")
  log "2. compose: docker-compose.yml as committed, plus an override of this run naming the stand-ins of its pinned images (${STANDIN_SERVICES[*]})"
fi
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/mysql_password"
password=$(cat "$WORK/mysql_password")
compose down -v -t 0 >/dev/null 2>&1 || true
compose up -d >"$WORK/compose-up.log" 2>&1 || {
  tail -n 30 "$WORK/compose-up.log"
  fail "compose up"
}
log "2. compose: $("$ENGINE" ps --filter "label=com.docker.compose.project=$PROJECT" --format '{{.Names}}' | wc -l) containers started"

mysql_q() {
  # On stdin: the list of acknowledged hashes is longer than an argument may be.
  "$ENGINE" exec -i "$(service mysql)" mysql -N -B -ueth_user -p"$password" eth <<<"$1"
}
redis_q() { "$ENGINE" exec -i "$(service redis)" redis-cli --no-raw "$@" 2>/dev/null; }

c1=$(ip_of "$(service client-1)")
c2=$(ip_of "$(service client-2)")
fleet_flows() {
  local s c
  for s in server-1 server-2; do
    for c in "$c1" "$c2"; do
      [ "$(data_from "$(service "$s")" "$c")" -ge 1 ] || return 1
    done
  done
}
until_true 180 "both servers printing DATA from both clients" fleet_flows
for s in mysql redis anvil server-1 server-2 client-1 client-2 stats; do
  until_true 60 "$s HEALTHCHECK" healthy "$(service "$s")"
done
rows() { mysql_q "SELECT COUNT(*) FROM ethereum_data" 2>/dev/null || echo 0; }
stored_from_both() {
  local ips
  ips=$(redis_q HKEYS eth:ip_addresses | tr -d '"' | awk '{print $NF}')
  grep -qx "$c1" <<<"$ips" && grep -qx "$c2" <<<"$ips" && [ "$(rows)" -ge 2 ]
}
until_true 60 "documents from both clients in Redis and MySQL" stored_from_both
log "2. both servers print DATA from both clients; MySQL holds $(rows) rows, Redis $(redis_q ZCARD eth:hashes | awk '{print $NF}') hashes and both client addresses; every HEALTHCHECK passes"

# Stats serves what the stores hold: a hash read from Redis and both clients.
hash=$(redis_q ZRANGE eth:hashes 0 0 | tr -d '"' | awk '{print $NF}')
stats_serves() {
  local cat_hashes cat_clients
  cat_hashes=$(curl -fsS --max-time 5 http://127.0.0.1:8080/_cat/hashes?limit=1000) || return 1
  cat_clients=$(curl -fsS --max-time 5 http://127.0.0.1:8080/_cat/clients) || return 1
  grep -q "$hash" <<<"$cat_hashes" && grep -q "$c1" <<<"$cat_clients" && grep -q "$c2" <<<"$cat_clients"
}
until_true 60 "stats serving the stored hashes and clients" stats_serves
curl -fsS --max-time 5 -o /dev/null http://127.0.0.1:8080/livez || fail "stats /livez"
log "2. stats serves them: /_cat/hashes lists $hash, /_cat/clients both clients"

# SIGTERM to server-1 under load: every document it acknowledged is stored.
deno run --allow-read --allow-net --allow-env scripts/containers/load.ts --port 8888 --connections 8 --seconds 120 \
  >"$WORK/acked" 2>"$WORK/load.log" &
load=$!
sleep 5
server1=$(service server-1)
t=$SECONDS
"$ENGINE" stop -t 30 "$server1" >/dev/null
log "2. stopped server-1 with SIGTERM under load ($((SECONDS - t))s); exit code $("$ENGINE" inspect --format '{{.State.ExitCode}}' "$server1")"
wait "$load" || fail "the load generator failed: $(cat "$WORK/load.log")"
acked=$(grep -c . "$WORK/acked" || true)
[ "$acked" -gt 0 ] || fail "server-1 acknowledged nothing under load"
in_list=$(sed "s/.*/'&'/" "$WORK/acked" | paste -sd,)
in_mysql=$(mysql_q "SELECT COUNT(DISTINCT hash) FROM ethereum_data WHERE hash IN ($in_list)")
in_redis=$(sed 's/^/ZSCORE eth:hashes /' "$WORK/acked" | "$ENGINE" exec -i "$(service redis)" redis-cli | grep -vc '^$' || true)
log "2. acknowledged by server-1 under load: $acked; in MySQL: $in_mysql; in Redis: $in_redis"
[ "$in_mysql" -eq "$acked" ] && [ "$in_redis" -eq "$acked" ] ||
  fail "server-1 lost acknowledged documents at SIGTERM"
"$ENGINE" logs "$server1" 2>&1 | grep -q 'Stopped' || log "note: server-1 logged no 'Stopped' line"

compose down -v -t 3 >/dev/null 2>&1 || fail "compose down"
"$ENGINE" network rm "${PROJECT}_default" >/dev/null 2>&1 || true
[ "$(git status --porcelain)" = "$git_before" ] || fail "the run changed files of the repository: $(git status --porcelain)"
log "ok: images built, server and client containers and the compose fleet ran as described; nothing acknowledged was lost ($((SECONDS - START))s)"
