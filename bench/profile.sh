#!/bin/bash
# Profiles our server under scenario 8's load (32 senders, a connection per
# document, each waiting for `2:ok,`), as bench/PROFILE.md reports it.
#
#   bench/profile.sh NAME PORT TOOL [SERVER ARGS...]
#
# TOOL: perf   perf record -g at 1999 Hz for 8 s (JS frames named through
#              --perf-basic-prof and --interpreted-frames-native-stack)
#       strace strace -f -c for 8 s: syscall counts
#       trace  strace -f -y for 4 s: file and socket syscalls with their paths
# Output goes to /tmp/eth-profile/NAME (load.json is the load generator's
# report; threads.txt the server's threads). Run from the repository root,
# as root or with perf_event_paranoid <= 1. Examples:
#   bench/profile.sh sqlite 19871 perf --sqlite-path /tmp/eth-profile/p.sqlite
#   bench/profile.sh mysql 19874 strace --use-mysql --mysql-host 127.0.0.1 \
#     --mysql-user root --mysql-db eth_profile --use-redis \
#     --redis-host 127.0.0.1 --redis-key-prefix eth_profile:
set -u
name=$1; port=$2; tool=$3; shift 3
dir=/tmp/eth-profile/$name
rm -rf "$dir"; mkdir -p "$dir"
deno run -A --v8-flags=--perf-basic-prof,--interpreted-frames-native-stack \
  server.ts --host 127.0.0.1 --port "$port" --spool-dir "$dir/spool" "$@" \
  > /dev/null 2> "$dir/server.err" &
pid=$!
for _ in $(seq 50); do
  (echo > "/dev/tcp/127.0.0.1/$port") 2> /dev/null && break
  sleep 0.2
done
deno run -A bench/load.ts --port "$port" --mode conn --concurrency 32 \
  --warmup 2 --duration 10 > "$dir/load.json" &
load=$!
sleep 3
case $tool in
  perf) perf record -F 1999 -g -p "$pid" -o "$dir/perf.data" -- sleep 8 \
          2> "$dir/perf.err" ;;
  strace) timeout -s INT 8 strace -f -c -o "$dir/strace.txt" -p "$pid" \
            2> /dev/null ;;
  trace) timeout -s INT 4 strace -f -y -o "$dir/trace.txt" -p "$pid" \
           -e trace=pwrite64,pread64,write,fsync,fdatasync,rename,sendto,futex \
           2> /dev/null ;;
esac
grep -E "^Threads" "/proc/$pid/status" > "$dir/threads.txt"
for t in /proc/$pid/task/*; do
  echo "${t##*/} $(cat "$t/comm")" >> "$dir/threads.txt"
done
wait $load
kill -TERM $pid
wait $pid
echo "$dir"
