# Sourced by run.sh: picks the container engine and, for podman as root,
# installs and configures it as this machine kind needs.

# Sets ENGINE (docker|podman) and COMPOSE (the compose command).
choose_engine() {
  if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then
    ENGINE=docker
    if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi
    log "engine: Docker (a daemon answers)"
    return
  fi
  ENGINE=podman
  COMPOSE=(podman-compose)
  local packages=(podman runc podman-compose mmdebstrap netavark aardvark-dns catatonit uidmap slirp4netns iptables)
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      fail "no Docker daemon answers and podman is not set up; run: sudo apt-get install -y ${missing[*]}"
    fi
    log "engine: no Docker daemon answers; installing ${missing[*]} (Debian packages)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
      fail "apt-get install ${missing[*]} failed"
  fi
  # crun refuses this machine's hybrid cgroups, podman's default rlimits
  # cannot be set here, there is no systemd journal for events, and Debian's
  # podman would otherwise fall back to CNI, whose plugins are not installed.
  local conf=/etc/containers/containers.conf hard
  hard=$(ulimit -Hn)
  if ! grep -qs '^# eth-client-server containers' "$conf"; then
    if [ "$(id -u)" -ne 0 ]; then
      fail "podman needs $conf set up once by root; run: sudo deno task containers"
    fi
    [ -s "$conf" ] && cp "$conf" "$conf.before-eth-containers"
    mkdir -p /etc/containers
    cat >"$conf" <<CONF
# eth-client-server containers (scripts/containers/engine.sh): what podman
# needs on this machine kind.
[containers]
default_ulimits = ["nofile=$hard:$hard", "nproc=32768:32768"]

[network]
network_backend = "netavark"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
    log "engine: wrote $conf (runtime runc, cgroupfs, file events, nofile $hard)"
  fi
  log "engine: podman $(podman version --format '{{.Client.Version}}' 2>/dev/null), $(podman-compose version 2>/dev/null | sed -n 's/^podman-composer* version */podman-compose /p')"
}

# The engine's image commands with what builds need here: the docker image
# format (or podman drops HEALTHCHECK) and the host network (npm registry).
build() {
  if [ "$ENGINE" = podman ]; then
    BUILDAH_FORMAT=docker podman build --network host "$@"
  else
    DOCKER_BUILDKIT=1 docker build --network host "$@"
  fi
}
