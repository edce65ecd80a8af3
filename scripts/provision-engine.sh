#!/usr/bin/env bash
# Bring up a real Docker engine for polyarch's engine tests on a Debian 12
# (bookworm) or Debian 13 (trixie) x86_64 machine where we are root, no engine
# is installed and no public container registry can be reached.
#
# What "provisioned" means here:
#   - dockerd (with the containerd image store and a registry mirror pointing at
#     the local registry) answers `docker info`;
#   - the buildx and compose v2 CLI plugins work;
#   - QEMU user emulation is registered with binfmt_misc for every
#     architecture Debian's QEMU package ships (aarch64 and arm are checked);
#   - a local registry answers on 127.0.0.1:5000;
#   - cosign is installed (for signed releases and bundles);
#   - stand-ins for the public base images the stack uses
#     (library/python:3.12-slim, library/busybox:1.36.1) sit in that registry
#     as linux/amd64 + linux/arm64 + linux/arm/v7 manifest lists, so `FROM python:3.12-slim`
#     and `image: busybox:1.36.1` resolve through the mirror.
#
# Every step checks before it acts, so running the script again is cheap: when
# everything is in place it says so and exits within seconds.
#
# Usage:
#   scripts/provision-engine.sh            provision what is missing
#   scripts/provision-engine.sh --check    only report; non-zero if anything is missing
#   scripts/provision-engine.sh --packages-only
#                                          only install the packages and the
#                                          busybox binaries (e.g. into an image)
#   scripts/provision-engine.sh --no-stand-ins
#                                          provision, but leave the base-image
#                                          stand-ins alone (also POLYARCH_STAND_INS=0)
#
# The stand-ins are only ever pushed to a registry this script runs itself on
# this machine: when DOCKER_HOST names a daemon elsewhere, that step is skipped.
set -euo pipefail

# ---------------------------------------------------------------- settings ---

REGISTRY_ADDR=127.0.0.1:5000
REGISTRY_URL="http://${REGISTRY_ADDR}"
REGISTRY_ROOT=/var/lib/polyarch-registry
REGISTRY_CONFIG=/etc/polyarch/registry.yml
REGISTRY_LOG=/var/log/polyarch-registry.log
DOCKERD_LOG=/var/log/polyarch-dockerd.log
DAEMON_JSON=/etc/docker/daemon.json
DEBIAN_SOURCES=/etc/apt/sources.list.d/debian.sources
TRIXIE_SOURCES=/etc/apt/sources.list.d/polyarch-trixie.sources
TRIXIE_PIN=/etc/apt/preferences.d/polyarch-trixie
STATE_DIR=/run/polyarch
WORK_DIR="${POLYARCH_PROVISION_WORK:-/var/cache/polyarch-provision}"

PYTHON_REF="${REGISTRY_ADDR}/library/python:3.12-slim"
BUSYBOX_REF="${REGISTRY_ADDR}/library/busybox:1.36.1"
# Debian architectures of the stand-ins; docker_platform maps them to Docker's names.
ARCHES=(amd64 arm64 armhf)
FOREIGN_ARCHES=(arm64 armhf)
# binfmt_misc entries the tests rely on (others are registered, not checked).
QEMU_CHECKED=(qemu-aarch64 qemu-arm)
# The stand-in's Debian release; its python3 is what `python` runs.
STANDIN_SUITE=bookworm
STANDIN_PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
# Bump when the recipe below changes: stand-ins with another revision are rebuilt.
STANDIN_LABEL=org.polyarch.stand-in
STANDIN_REVISION=3
BUSYBOX_NEEDED_APPLETS=(sh mkdir chmod echo date cat sleep ls wget uname)

export DEBIAN_FRONTEND=noninteractive

# ----------------------------------------------------------------- helpers ---

SCRIPT_START=$SECONDS

log() { printf 'provision: %s\n' "$*" >&2; }
die() {
    printf 'provision: ERROR: %s\n' "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

usage() {
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
}

CHECK_ONLY=0
PACKAGES_ONLY=0
STAND_INS="${POLYARCH_STAND_INS:-1}"
for arg in "$@"; do
    case "$arg" in
        --check) CHECK_ONLY=1 ;;
        --packages-only) PACKAGES_ONLY=1 ;;
        --no-stand-ins) STAND_INS=0 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument '$arg' (try --help)" ;;
    esac
done

# Is the engine the docker CLI talks to one on this machine? Only then may
# the script push stand-ins into "its" registry and restart "its" daemon.
engine_is_local() {
    case "${DOCKER_HOST:-}" in
        "" | unix://*) return 0 ;;
        *) return 1 ;;
    esac
}
if ! engine_is_local; then
    STAND_INS=0
fi

# The release apt tracks: the plain codename ("bookworm", not
# "bookworm-security") in debian.sources, or in a "deb" line of sources.list.
apt_release() {
    local s=""
    if [[ -r "$DEBIAN_SOURCES" ]]; then
        s=$(awk '/^Suites:/ { for (i = 2; i <= NF; i++) if ($i !~ /-/) { print $i; exit } }' "$DEBIAN_SOURCES")
    fi
    if [[ -z "$s" && -r /etc/apt/sources.list ]]; then
        s=$(awk '$1 == "deb" { for (i = 2; i < NF; i++) if ($i ~ /:\/\//) { if ($(i + 1) !~ /-/) { print $(i + 1); exit } break } }' /etc/apt/sources.list)
    fi
    echo "$s"
}

# Debian release: 12 -> bookworm, 13 -> trixie (testing says "trixie/sid").
# When /etc/debian_version and apt's sources disagree (a Debian 12 system
# that took base-files from trixie says 13), apt's sources decide: they are
# what the packages below are installed from.
debian_codename() {
    local v rel="" apt
    v=$(cat /etc/debian_version 2>/dev/null || true)
    case "$v" in
        12 | 12.*) rel=bookworm ;;
        13 | 13.* | trixie/*) rel=trixie ;;
    esac
    apt=$(apt_release)
    if [[ "$apt" == bookworm || "$apt" == trixie ]]; then
        if [[ -n "$rel" && "$rel" != "$apt" ]]; then
            log "note: /etc/debian_version says $v, but apt tracks $apt; going by apt"
        fi
        echo "$apt"
    elif [[ -n "$rel" ]]; then
        echo "$rel"
    else
        echo "unsupported:${v:-none}/${apt:-none}"
    fi
}
CODENAME=""

# ------------------------------------------------------------------ checks ---
# Each check is silent and only answers yes (0) or no (1).

check_engine() { timeout 15 docker info >/dev/null 2>&1; }

# The running daemon uses the containerd image store and the local mirror.
check_engine_config() {
    local info
    info=$(timeout 15 docker info --format '{{json .DriverStatus}} {{json .RegistryConfig.Mirrors}}' 2>/dev/null) || return 1
    [[ "$info" == *io.containerd.snapshotter.v1* && "$info" == *"${REGISTRY_URL}"* ]]
}

check_buildx() { timeout 15 docker buildx version >/dev/null 2>&1; }
check_compose() { timeout 15 docker compose version >/dev/null 2>&1; }

docker_platform() {
    case "$1" in
        amd64) echo linux/amd64 ;;
        arm64) echo linux/arm64 ;;
        armhf) echo linux/arm/v7 ;;
        *) die "no Docker platform known for Debian architecture $1" ;;
    esac
}

check_qemu_entry() {
    local entry=/proc/sys/fs/binfmt_misc/$1
    [[ -r "$entry" ]] || return 1
    [[ "$(head -n 1 "$entry")" == enabled ]] || return 1
    # The F flag opens the interpreter at registration time, so it also works
    # inside containers whose file system has no qemu binary.
    grep -q '^flags:.*F' "$entry"
}

check_qemu() {
    local name
    for name in "${QEMU_CHECKED[@]}"; do
        check_qemu_entry "$name" || return 1
    done
}

check_registry() { curl -fsS -m 3 -o /dev/null "${REGISTRY_URL}/v2/" 2>/dev/null; }
# cosign signs and checks releases and bundles ([signing] in polyarch.toml, the signing tests).
check_cosign() { have cosign; }

# A stand-in is in place when the registry serves it as a list with both
# arches, each image carrying the current recipe's revision label.
check_stand_in() {
    local out arch platforms=()
    out=$(timeout 30 docker buildx imagetools inspect "$1" --format '{{json .Image}}' 2>/dev/null) || return 1
    for arch in "${ARCHES[@]}"; do platforms+=("$(docker_platform "$arch")"); done
    jq -e --arg key "$STANDIN_LABEL" --arg rev "$STANDIN_REVISION" \
        '[$ARGS.positional[] as $p | .[$p].config.Labels[$key]? == $rev] | all' \
        --args "${platforms[@]}" <<<"$out" >/dev/null 2>&1
}

check_stand_ins() {
    check_stand_in "$PYTHON_REF" && check_stand_in "$BUSYBOX_REF"
}

all_ok() {
    check_engine && check_engine_config && check_buildx && check_compose \
        && check_qemu && check_registry && check_cosign \
        && { [[ "$STAND_INS" == 0 ]] || check_stand_ins; }
}

# --check: one line per part, non-zero when any part is missing.
report() {
    local failed=0 name
    row() {
        local label=$1
        shift
        if "$@"; then
            printf 'provision: %-18s ok\n' "$label"
        else
            printf 'provision: %-18s MISSING\n' "$label"
            failed=1
        fi
    }
    row engine check_engine
    row engine-cfg check_engine_config
    row buildx check_buildx
    row compose check_compose
    row qemu check_qemu
    row registry check_registry
    row cosign check_cosign
    if [[ "$STAND_INS" == 0 ]]; then
        printf 'provision: %-18s skipped\n' stand-ins
    else
        for name in "$PYTHON_REF" "$BUSYBOX_REF"; do
            row "${name##*/}" check_stand_in "$name"
        done
    fi
    return "$failed"
}

# ---------------------------------------------------------------- packages ---

APT_UPDATED=0
apt_update_once() {
    # A mirror in the middle of a sync serves an index of the wrong size now
    # and then; try again, and in the end go on with the lists apt has (the
    # install or download that follows fails clearly if one is really missing).
    local try
    if [[ "$APT_UPDATED" == 0 ]]; then
        for try in 1 2 3; do
            log "apt-get update (try $try)"
            if apt-get update -q; then
                APT_UPDATED=1
                return
            fi
            sleep $((try * 5))
        done
        log "apt-get update: some index files could not be fetched; going on with what apt has"
        APT_UPDATED=1
    fi
}

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# The URIs and Signed-By fields of the stanza in debian.sources that carries
# the plain release suite ("bookworm", not "bookworm-security").
main_archive_field() {
    local field=$1 suite=$2
    awk -v RS= -v field="$field" -v suite="$suite" '
        {
            n = split($0, lines, "\n"); has = 0; val = ""
            for (i = 1; i <= n; i++) {
                if (lines[i] ~ /^Suites:/) {
                    m = split(lines[i], w, /[ \t]+/)
                    for (j = 2; j <= m; j++) if (w[j] == suite) has = 1
                }
                if (index(lines[i], field ":") == 1) {
                    val = substr(lines[i], length(field) + 2)
                    sub(/^[ \t]+/, "", val)
                }
            }
            if (has && val != "") { print val; exit }
        }' "$DEBIAN_SOURCES"
}

# The first URI of the host's main Debian archive; never a hard-coded host.
debian_mirror_uri() {
    local codename=$1 uri=""
    if [[ -r "$DEBIAN_SOURCES" ]]; then
        uri=$(main_archive_field URIs "$codename" | awk '{print $1}')
    fi
    if [[ -z "$uri" && -r /etc/apt/sources.list ]]; then
        uri=$(awk -v s="$codename" '$1 == "deb" && $0 ~ (" " s " ") {
                  for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
    fi
    [[ -n "$uri" ]] || die "cannot find the Debian archive URI for '$codename' in $DEBIAN_SOURCES or /etc/apt/sources.list"
    echo "${uri%/}"
}

ensure_trixie_source() {
    local uri keyring want_sources want_pin
    uri=$(debian_mirror_uri bookworm)
    keyring=""
    if [[ -r "$DEBIAN_SOURCES" ]]; then
        keyring=$(main_archive_field Signed-By bookworm)
    fi
    want_sources="Types: deb
URIs: ${uri}
Suites: trixie
Components: main"
    if [[ -n "$keyring" ]]; then
        want_sources+="
Signed-By: ${keyring}"
    fi
    want_pin="Package: *
Pin: release n=trixie
Pin-Priority: 100"
    if [[ "$(cat "$TRIXIE_SOURCES" 2>/dev/null)" != "$want_sources" ]]; then
        log "adding the trixie apt source (${uri}) for the engine packages"
        printf '%s\n' "$want_sources" >"$TRIXIE_SOURCES"
        APT_UPDATED=0
    fi
    if [[ "$(cat "$TRIXIE_PIN" 2>/dev/null)" != "$want_pin" ]]; then
        log "pinning trixie to priority 100 (only used when asked for)"
        printf '%s\n' "$want_pin" >"$TRIXIE_PIN"
    fi
}

ensure_foreign_arches() {
    local arch
    for arch in "${FOREIGN_ARCHES[@]}"; do
        if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
            log "dpkg --add-architecture $arch (for the $arch busybox-static download)"
            dpkg --add-architecture "$arch"
            APT_UPDATED=0
        fi
    done
}

# Keep packages' maintainer scripts from starting services (docker, registry)
# on their own: this script starts them with its own settings.
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0
block_service_starts() {
    if [[ ! -e "$POLICY_RC" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
        chmod 755 "$POLICY_RC"
        POLICY_RC_OURS=1
    fi
}
unblock_service_starts() {
    if [[ "$POLICY_RC_OURS" == 1 ]]; then
        rm -f "$POLICY_RC"
        POLICY_RC_OURS=0
    fi
}
trap unblock_service_starts EXIT

apt_install() {
    # $1: extra apt-get options (may be empty), rest: packages
    local opts=$1
    shift
    log "apt-get install ${opts:+$opts }$*"
    block_service_starts
    # shellcheck disable=SC2086
    apt-get install -y -q $opts "$@"
    unblock_service_starts
}

engine_packages_ok() {
    local p
    for p in docker.io docker-cli docker-buildx docker-compose; do
        installed "$p" || return 1
    done
    # bookworm's own docker.io (20.10) is too old for multi-platform builds.
    dpkg --compare-versions "$(dpkg-query -W -f='${Version}' docker.io)" ge 26
}

ensure_packages() {
    local p
    local tools=(docker-registry mmdebstrap pigz curl ca-certificates jq)
    local qemu
    if [[ "$CODENAME" == bookworm ]]; then
        qemu=(qemu-user-static binfmt-support)
    else
        # On trixie qemu-user-static is only a transitional package; these two
        # carry the (static) emulators and their binfmt.d entries.
        qemu=(qemu-user qemu-user-binfmt)
    fi

    local engine=(docker.io docker-cli docker-buildx docker-compose)
    # dockerd loads an AppArmor profile when the kernel has AppArmor on.
    if [[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" == Y ]]; then
        tools+=(apparmor)
    fi
    local missing=()
    for p in "${qemu[@]}" "${tools[@]}" chromium; do
        installed "$p" || missing+=("$p")
    done
    local engine_missing=0
    engine_packages_ok || engine_missing=1
    # Debian 12 has no cosign package; it comes from trixie like the engine.
    local cosign_missing=0
    installed cosign || cosign_missing=1

    if [[ "$engine_missing" == 0 && "$cosign_missing" == 0 && ${#missing[@]} -eq 0 ]]; then
        log "packages: all installed"
        return
    fi

    if [[ "$CODENAME" == bookworm ]]; then
        ensure_trixie_source
    fi
    ensure_foreign_arches
    apt_update_once

    if [[ "$engine_missing" == 1 ]]; then
        if [[ "$CODENAME" == bookworm ]]; then
            # "pkg/trixie" takes these packages (and only the dependencies
            # bookworm cannot satisfy, i.e. containerd) from trixie. Do not use
            # "-t trixie": it makes trixie the default release for the whole
            # transaction and drags libc6, dpkg, apt, perl, python3, systemd,
            # base-files ... up to trixie as well.
            local from_trixie=()
            for p in "${engine[@]}"; do from_trixie+=("$p/trixie"); done
            apt_install --no-install-recommends "${from_trixie[@]}"
        else
            apt_install --no-install-recommends "${engine[@]}"
        fi
    fi
    if [[ "$cosign_missing" == 1 ]]; then
        if [[ "$CODENAME" == bookworm ]]; then
            apt_install --no-install-recommends cosign/trixie
        else
            apt_install --no-install-recommends cosign
        fi
    fi
    # Recommends are left out throughout: nothing here needs them, and
    # chromium's alone would add hundreds of megabytes.
    local rest=()
    for p in "${qemu[@]}" "${tools[@]}" chromium; do
        installed "$p" || rest+=("$p")
    done
    if [[ ${#rest[@]} -gt 0 ]]; then
        apt_install --no-install-recommends "${rest[@]}"
    fi
}

# Static busybox for every arch of ARCHES, unpacked (not installed) under WORK_DIR.
ensure_busybox_binaries() {
    local arch absent=0
    for arch in "${ARCHES[@]}"; do
        [[ -x "$WORK_DIR/busybox/$arch/busybox" ]] || absent=1
    done
    if [[ "$absent" == 0 ]]; then
        return
    fi
    ensure_foreign_arches
    apt_update_once
    log "downloading busybox-static for ${ARCHES[*]}"
    local dl="$WORK_DIR/debs"
    rm -rf "$dl" && mkdir -p "$dl"
    # apt's sandbox user must be able to write the download directory.
    chown _apt "$dl" 2>/dev/null || true
    local debs=()
    for arch in "${ARCHES[@]}"; do debs+=("busybox-static:$arch"); done
    (cd "$dl" && apt-get download -q "${debs[@]}")
    local tree bin
    for arch in "${ARCHES[@]}"; do
        tree="$dl/tree-$arch"
        mkdir -p "$tree" "$WORK_DIR/busybox/$arch"
        dpkg-deb -x "$(ls "$dl"/busybox-static_*_"$arch".deb)" "$tree"
        # bookworm ships /bin/busybox, trixie /usr/bin/busybox.
        for bin in "$tree/bin/busybox" "$tree/usr/bin/busybox" ""; do
            [[ -z "$bin" || -x "$bin" ]] && break
        done
        [[ -n "$bin" ]] || die "busybox-static for $arch has no bin/busybox or usr/bin/busybox"
        install -m 755 "$bin" "$WORK_DIR/busybox/$arch/busybox"
    done
    rm -rf "$dl"
}

# ------------------------------------------------------------------- QEMU ---

ensure_qemu() {
    if check_qemu; then
        log "qemu: ${QEMU_CHECKED[*]} emulation already registered"
        return
    fi
    if [[ ! -e /proc/sys/fs/binfmt_misc/status ]]; then
        log "mounting binfmt_misc"
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    if [[ "$(cat /proc/sys/fs/binfmt_misc/status)" != enabled ]]; then
        echo 1 >/proc/sys/fs/binfmt_misc/status
    fi
    if check_qemu; then
        # The kernel still had the entries; they only were not mounted here.
        log "qemu: emulation was registered already"
        return
    fi
    local name entry conf
    for name in "${QEMU_CHECKED[@]}"; do
        entry=/proc/sys/fs/binfmt_misc/$name
        if [[ -e "$entry" ]] && ! check_qemu_entry "$name"; then
            # Registered but disabled or without the F flag: drop and redo it.
            log "qemu: replacing the existing $name entry ($(head -n 1 "$entry"))"
            echo -1 >"$entry"
        fi
    done
    if [[ "$CODENAME" == bookworm ]]; then
        # Every emulator qemu-user-static ships, not only the checked ones.
        for conf in /usr/share/binfmts/qemu-*; do
            name=${conf##*/}
            [[ -e /proc/sys/fs/binfmt_misc/$name ]] && continue
            update-binfmts --enable "$name" >/dev/null 2>&1 || log "qemu: could not enable $name"
        done
    else
        for conf in /usr/lib/binfmt.d/qemu-*.conf; do
            name=${conf##*/}
            name=${name%.conf}
            [[ -e /proc/sys/fs/binfmt_misc/$name ]] && continue
            grep -v -e '^[#;]' -e '^[[:space:]]*$' "$conf" >/proc/sys/fs/binfmt_misc/register 2>/dev/null \
                || log "qemu: could not register $name"
        done
    fi
    for name in "${QEMU_CHECKED[@]}"; do
        check_qemu_entry "$name" || die "qemu: $name is still not registered with the F flag ($(tr '\n' ' ' <"/proc/sys/fs/binfmt_misc/$name" 2>/dev/null))"
    done
    log "qemu: registered $(ls /proc/sys/fs/binfmt_misc | grep -c '^qemu-') emulators (${QEMU_CHECKED[*]} checked)"
}

# --------------------------------------------------------------- registry ---

registry_config_text() {
    cat <<EOF
# Local registry for polyarch's engine tests (written by scripts/provision-engine.sh).
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: ${REGISTRY_ROOT}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: ${REGISTRY_ADDR}
  headers:
    X-Content-Type-Options: [nosniff]
EOF
}

wait_for() {
    # $1: seconds, rest: check command
    local limit=$1 start=$SECONDS
    shift
    until "$@"; do
        if ((SECONDS - start >= limit)); then
            return 1
        fi
        sleep 1
    done
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# Is $2 a live process named $1? Pid files outlive their daemons (CI ends
# every process of the session), and the number may since belong to another.
pid_is() { pid_alive "${2:-}" && [[ "$(cat "/proc/$2/comm" 2>/dev/null)" == "$1" ]]; }

ensure_registry() {
    mkdir -p "$(dirname "$REGISTRY_CONFIG")" "$REGISTRY_ROOT" "$STATE_DIR"
    local want changed=0 pidfile="$STATE_DIR/registry.pid" pid=""
    want=$(registry_config_text)
    if [[ "$(cat "$REGISTRY_CONFIG" 2>/dev/null)" != "$want" ]]; then
        log "registry: writing $REGISTRY_CONFIG"
        printf '%s\n' "$want" >"$REGISTRY_CONFIG"
        changed=1
    fi
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [[ "$changed" == 1 ]] && pid_is docker-registry "$pid"; then
        log "registry: configuration changed, restarting pid $pid"
        kill "$pid"
        wait_for 20 eval '! kill -0 '"$pid"' 2>/dev/null' || die "registry: pid $pid did not stop"
    fi
    if check_registry; then
        log "registry: answering on ${REGISTRY_URL}"
        return
    fi
    if ! pid_is docker-registry "$pid"; then
        log "registry: starting docker-registry serve $REGISTRY_CONFIG (log: $REGISTRY_LOG)"
        setsid docker-registry serve "$REGISTRY_CONFIG" >>"$REGISTRY_LOG" 2>&1 </dev/null 9>&- &
        echo $! >"$pidfile"
        pid=$!
    fi
    if ! wait_for 30 check_registry; then
        tail -n 20 "$REGISTRY_LOG" >&2 || true
        die "registry: ${REGISTRY_URL}/v2/ does not answer (see $REGISTRY_LOG)"
    fi
    log "registry: up (pid $pid)"
}

# ----------------------------------------------------------------- dockerd ---

# daemon.json: keep whatever else is there, make sure our two settings are set.
ensure_daemon_json() {
    mkdir -p "$(dirname "$DAEMON_JSON")"
    local current want
    current=$(cat "$DAEMON_JSON" 2>/dev/null || true)
    [[ -n "${current//[[:space:]]/}" ]] || current='{}'
    if ! jq -e 'type == "object"' >/dev/null 2>&1 <<<"$current"; then
        log "dockerd: $DAEMON_JSON is not a JSON object; replacing it"
        current='{}'
    fi
    want=$(jq -S --arg mirror "$REGISTRY_URL" \
        '. * {"features": {"containerd-snapshotter": true}} | .["registry-mirrors"] = [$mirror]' <<<"$current")
    if [[ "$(jq -S . <<<"$current")" != "$want" || ! -e "$DAEMON_JSON" ]]; then
        log "dockerd: writing $DAEMON_JSON (containerd image store, mirror $REGISTRY_URL)"
        printf '%s\n' "$want" >"$DAEMON_JSON"
    fi
}

dockerd_pid() {
    local pid
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if pid_is dockerd "$pid"; then echo "$pid"; fi
}

stop_dockerd() {
    local pid
    pid=$(dockerd_pid)
    [[ -n "$pid" ]] || die "dockerd: it runs with other settings, but /var/run/docker.pid names no live process; restart it by hand"
    log "dockerd: stopping pid $pid to apply $DAEMON_JSON"
    kill "$pid"
    wait_for 60 eval '! kill -0 '"$pid"' 2>/dev/null' || die "dockerd: pid $pid did not stop within 60 s"
}

# dockerd refuses to start without cgroups ("Devices cgroup isn't mounted").
# Machines of this kind mount the v1 hierarchies at boot; where nothing is
# mounted, do what cgroupfs-mount would.
ensure_cgroups() {
    if [[ -e /sys/fs/cgroup/cgroup.controllers || -d /sys/fs/cgroup/devices ]]; then
        return
    fi
    log "cgroups: nothing mounted under /sys/fs/cgroup; mounting the v1 hierarchies"
    mountpoint -q /sys/fs/cgroup || mount -t tmpfs -o uid=0,gid=0,mode=0755 cgroup /sys/fs/cgroup
    local ctrl
    while read -r ctrl; do
        mkdir -p "/sys/fs/cgroup/$ctrl"
        mountpoint -q "/sys/fs/cgroup/$ctrl" || mount -t cgroup -o "$ctrl" cgroup "/sys/fs/cgroup/$ctrl"
    done < <(awk '!/^#/ && $4 == 1 { print $1 }' /proc/cgroups)
    [[ -d /sys/fs/cgroup/devices ]] || die "cgroups: could not mount the devices hierarchy"
}

# The lines of a daemon log that say why it failed, for error messages.
log_errors() {
    grep -E 'level=(error|fatal)|^failed|Error' "$1" 2>/dev/null | tail -n 5 >&2 || true
    tail -n 3 "$1" >&2 || true
}

start_dockerd() {
    # dockerd 26 starts and supervises its own containerd (from PATH) when no
    # system containerd socket exists, so no separate containerd is started.
    have containerd || die "dockerd: containerd is not installed"
    ensure_cgroups
    log "dockerd: starting (log: $DOCKERD_LOG)"
    mkdir -p "$STATE_DIR"
    local mark pid
    mark=0
    if [[ -f "$DOCKERD_LOG" ]]; then mark=$(wc -l <"$DOCKERD_LOG"); fi
    # A pid file left by a dockerd that was killed makes a new one refuse to
    # start when its number now belongs to another process.
    if [[ -e /var/run/docker.pid && -z "$(dockerd_pid)" ]]; then
        log "dockerd: removing stale /var/run/docker.pid"
        rm -f /var/run/docker.pid
    fi
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$STATE_DIR/dockerd.pid"
    local start=$SECONDS
    until check_engine; do
        if ! pid_alive "$pid"; then
            tail -n +"$((mark + 1))" "$DOCKERD_LOG" >"$STATE_DIR/dockerd-last-start.log" 2>/dev/null || true
            log_errors "$STATE_DIR/dockerd-last-start.log"
            die "dockerd: exited while starting (see $DOCKERD_LOG)"
        fi
        if ((SECONDS - start >= 60)); then
            log_errors "$DOCKERD_LOG"
            die "dockerd: 'docker info' did not answer within 60 s (see $DOCKERD_LOG)"
        fi
        sleep 1
    done
}

ensure_dockerd() {
    ensure_daemon_json
    if check_engine; then
        if check_engine_config; then
            log "dockerd: running with the containerd image store and the local mirror"
            return
        fi
        engine_is_local || die "dockerd: the engine at DOCKER_HOST=$DOCKER_HOST lacks the containerd store or the mirror; not touching a remote daemon"
        stop_dockerd
    elif [[ -n "$(dockerd_pid)" ]]; then
        # Started but not answering yet (or stuck): give it the usual time.
        log "dockerd: pid $(dockerd_pid) is running but not answering yet; waiting"
        if ! wait_for 60 check_engine; then
            die "dockerd: pid $(dockerd_pid) does not answer 'docker info' (see $DOCKERD_LOG)"
        fi
        check_engine_config || stop_dockerd
    fi
    check_engine || start_dockerd
    check_engine_config || die "dockerd: running, but 'docker info' shows no containerd image store or no mirror $REGISTRY_URL"
    check_buildx || die "docker buildx does not work (is docker-buildx installed?)"
    check_compose || die "docker compose does not work (is docker-compose installed?)"
    log "dockerd: up ($(docker info --format 'server {{.ServerVersion}}, {{.Driver}}' 2>/dev/null))"
}

# -------------------------------------------------------------- stand-ins ---

# Root file system hook for the python stand-in: mmdebstrap's extract variant
# runs no maintainer scripts, so do by hand what they (and the official
# python image) would have set up. That variant runs only extract hooks
# (--customize-hook is silently ignored there).
write_python_hook() {
    cat >"$WORK_DIR/python-extract-hook.sh" <<'EOF'
#!/bin/sh
set -eu
root=$1
mkdir -p "$root/usr/local/bin" "$root/usr/local/sbin" "$root/tmp" "$root/root" "$root/etc" "$root/var/tmp"
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
[ -e "$root/usr/bin/sh" ] || ln -s dash "$root/usr/bin/sh"
ln -sfn /usr/bin/python3 "$root/usr/local/bin/python"
[ -s "$root/etc/passwd" ] || cat >"$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PW
[ -s "$root/etc/group" ] || cat >"$root/etc/group" <<'GR'
root:x:0:
nogroup:x:65534:
GR
EOF
    chmod 755 "$WORK_DIR/python-extract-hook.sh"
}

push_arch_and_join() {
    # $1: final ref; pushes "$1-<arch>" for each arch, then joins them.
    local ref=$1 arch sources=()
    for arch in "${ARCHES[@]}"; do
        log "stand-in: docker push ${ref}-${arch}"
        docker push -q "${ref}-${arch}" >/dev/null
        sources+=("${ref}-${arch}")
    done
    log "stand-in: imagetools create -t $ref ${sources[*]}"
    docker buildx imagetools create -t "$ref" "${sources[@]}"
    # The per-arch tags were only needed for the push.
    for arch in "${ARCHES[@]}"; do
        docker image rm "${ref}-${arch}" >/dev/null 2>&1 || true
    done
    check_stand_in "$ref" || die "stand-in: $ref does not list every platform of ${ARCHES[*]} (revision $STANDIN_REVISION) after imagetools create"
}

build_python_stand_in() {
    local mirror arch tarball
    mirror=$(debian_mirror_uri "$CODENAME")
    write_python_hook
    for arch in "${ARCHES[@]}"; do
        tarball="$WORK_DIR/python-$arch.tar"
        log "stand-in: mmdebstrap $STANDIN_SUITE for $arch (python3, dash, coreutils)"
        rm -f "$tarball"
        mmdebstrap --quiet --variant=extract --arch="$arch" \
            --include=python3,dash,coreutils,libc-bin \
            --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
            --extract-hook="$WORK_DIR/python-extract-hook.sh \"\$1\"" \
            "$STANDIN_SUITE" "$tarball" "deb ${mirror} ${STANDIN_SUITE} main"
        log "stand-in: docker import $PYTHON_REF-$arch"
        docker import --platform "$(docker_platform "$arch")" \
            -c "ENV PATH=$STANDIN_PATH" -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' \
            -c "LABEL $STANDIN_LABEL=$STANDIN_REVISION" \
            "$tarball" "${PYTHON_REF}-${arch}" >/dev/null
        rm -f "$tarball"
    done
    push_arch_and_join "$PYTHON_REF"
}

build_busybox_stand_in() {
    ensure_busybox_binaries
    local applets arch a root tarball
    applets=$("$WORK_DIR/busybox/amd64/busybox" --list)
    for a in "${BUSYBOX_NEEDED_APPLETS[@]}"; do
        grep -qx "$a" <<<"$applets" || die "stand-in: busybox-static has no '$a' applet"
    done
    for arch in "${ARCHES[@]}"; do
        root="$WORK_DIR/busybox-root-$arch"
        tarball="$WORK_DIR/busybox-$arch.tar"
        rm -rf "$root" && mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp" "$root/var/tmp"
        chmod 1777 "$root/tmp" "$root/var/tmp"
        chmod 700 "$root/root"
        install -m 755 "$WORK_DIR/busybox/$arch/busybox" "$root/bin/busybox"
        while IFS= read -r a; do
            [[ -n "$a" && "$a" != busybox ]] && ln -s busybox "$root/bin/$a"
        done <<<"$applets"
        printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$root/etc/passwd"
        printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
        tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$tarball" .
        log "stand-in: docker import $BUSYBOX_REF-$arch ($(wc -l <<<"$applets") applets)"
        docker import --platform "$(docker_platform "$arch")" \
            -c "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" -c 'CMD ["sh"]' \
            -c "LABEL $STANDIN_LABEL=$STANDIN_REVISION" \
            "$tarball" "${BUSYBOX_REF}-${arch}" >/dev/null
        rm -rf "$root" "$tarball"
    done
    push_arch_and_join "$BUSYBOX_REF"
}

# Run a command in a stand-in for one platform; print its output or fail.
run_in() {
    local platform=$1 image=$2 out
    shift 2
    if ! out=$(docker run -q --rm --platform "$platform" "$image" "$@" 2>&1); then
        printf '%s\n' "$out" >&2
        die "stand-in: '$*' failed in $image for $platform"
    fi
    printf '%s\n' "$out"
}

# Pull and run both stand-ins under their public names, through the mirror.
verify_stand_ins() {
    local arch want got
    log "stand-in: verifying through the mirror (docker pull python:3.12-slim, busybox:1.36.1)"
    docker pull -q python:3.12-slim >/dev/null || die "stand-in: docker pull python:3.12-slim failed (is the mirror set?)"
    docker pull -q busybox:1.36.1 >/dev/null || die "stand-in: docker pull busybox:1.36.1 failed (is the mirror set?)"
    local platform
    for arch in "${ARCHES[@]}"; do
        case "$arch" in amd64) want=x86_64 ;; arm64) want=aarch64 ;; armhf) want=armv7l ;; esac
        platform=$(docker_platform "$arch")
        got=$(run_in "$platform" python:3.12-slim \
            python -c 'import json, http.server, urllib.request, hashlib, platform; print(platform.machine())')
        [[ "$got" == "$want" ]] || die "stand-in: python:3.12-slim on $platform reports '$got', expected '$want'"
        got=$(run_in "$platform" python:3.12-slim sh -c 'command -v python3 >/dev/null && uname -m')
        [[ "$got" == "$want" ]] || die "stand-in: /bin/sh in python:3.12-slim on $platform reports '$got'"
        got=$(run_in "$platform" busybox:1.36.1 uname -m)
        [[ "$got" == "$want" ]] || die "stand-in: busybox:1.36.1 on $platform reports '$got', expected '$want'"
        log "stand-in: $platform ok (python and busybox report $want)"
    done
}

ensure_stand_ins() {
    if [[ "$STAND_INS" == 0 ]]; then
        log "stand-ins: skipped (not a locally provisioned engine, or turned off)"
        return
    fi
    mkdir -p "$WORK_DIR"
    local built=0
    if check_stand_in "$PYTHON_REF"; then
        log "stand-in: $PYTHON_REF is in place (${ARCHES[*]}, revision $STANDIN_REVISION)"
    else
        build_python_stand_in
        built=1
    fi
    if check_stand_in "$BUSYBOX_REF"; then
        log "stand-in: $BUSYBOX_REF is in place (${ARCHES[*]}, revision $STANDIN_REVISION)"
    else
        build_busybox_stand_in
        built=1
    fi
    if [[ "$built" == 1 ]]; then
        verify_stand_ins
    fi
}

# -------------------------------------------------------------------- main ---

main() {
    [[ "$(id -u)" == 0 ]] || die "must run as root (it installs packages and starts daemons)"

    if [[ "$CHECK_ONLY" == 1 ]]; then
        report
        return
    fi

    if [[ "$PACKAGES_ONLY" == 0 ]] && all_ok; then
        log "already provisioned ($((SECONDS - SCRIPT_START)) s)"
        return
    fi

    CODENAME=$(debian_codename)
    [[ "$CODENAME" == bookworm || "$CODENAME" == trixie ]] \
        || die "unsupported system: debian_version/apt release '${CODENAME#unsupported:}' (Debian 12 or 13 needed)"
    log "Debian $(cat /etc/debian_version), installing from $CODENAME"

    # One provisioning at a time on this machine.
    mkdir -p "$STATE_DIR"
    exec 9>"$STATE_DIR/provision.lock"
    if ! flock -n 9; then
        log "another provisioning run holds $STATE_DIR/provision.lock; waiting"
        flock 9
    fi

    ensure_packages
    if [[ "$PACKAGES_ONLY" == 1 ]]; then
        ensure_busybox_binaries
        log "packages done in $((SECONDS - SCRIPT_START)) s"
        return
    fi
    ensure_qemu
    ensure_registry
    ensure_dockerd
    ensure_stand_ins

    if ! report >/dev/null 2>&1; then
        report || true
        die "some parts are still missing (see above)"
    fi
    log "done in $((SECONDS - SCRIPT_START)) s"
}

main
