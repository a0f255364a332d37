#!/usr/bin/env bash
# services.sh - system packages, PostgreSQL and Redis for coiweb (Debian 12 / Ubuntu, as root).
#
#   services.sh install-system   install the missing apt packages (never starts distro daemons)
#   services.sh ensure-redis     use the Redis answering on 127.0.0.1:6379 (COIWEB_REDIS_PORT), or start one
#   services.sh ensure-postgres  use the PostgreSQL on 127.0.0.1:5432, or start the local cluster;
#                                then make sure role and database "coiweb" (password "coiweb") exist
#
# Every command is idempotent: what is already installed or running is left alone.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_DIR=$HERE/../var/log

SYSTEM_PACKAGES=(python3 python3-venv python3-dev build-essential libpq-dev postgresql redis-server
    chromium fonts-dejavu-core fonts-noto-color-emoji ca-certificates openssl iproute2 procps)
# scripts/mailserver.sh installs these itself too; listing them here makes it one apt run.
MAIL_PACKAGES=(postfix dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sieve dovecot-managesieved)

REDIS_PORT=${COIWEB_REDIS_PORT:-6379}
PG_PORT=5432
DB_NAME=${COIWEB_DB_NAME:-coiweb}
DB_USER=coiweb
DB_PASSWORD=coiweb

log() { printf '[coiweb] %s\n' "$*" >&2; }
die() { printf '[coiweb] ERROR: %s\n' "$*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (try: sudo $0 ${CMD:-})"; }
has_systemd() { [ -d /run/systemd/system ]; }

# ---------------------------------------------------------------- apt
is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# shellcheck source=/dev/null
os_id() { (. /etc/os-release 2>/dev/null && echo "${ID:-}") || true; }

# Ubuntu ships Chromium as a snap only (the deb is a wrapper that needs snapd): skip it there.
wanted_packages() {
    local p
    for p in "${SYSTEM_PACKAGES[@]}" "${MAIL_PACKAGES[@]}"; do
        if [ "$p" = chromium ] && [ "$(os_id)" = ubuntu ]; then continue; fi
        echo "$p"
    done
}

apt_lists_present() { compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; }

apt_install() { # apt_install LOGFILE PACKAGE...
    local apt_log=$1
    shift
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$apt_log" 2>&1
}

cmd_install_system() {
    need_root
    local missing=() p
    while read -r p; do is_installed "$p" || missing+=("$p"); done < <(wanted_packages)
    if [ "$(os_id)" = ubuntu ] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
        log "note: Chromium (for the browser tests) is a snap on Ubuntu; install it yourself if you need those tests"
    fi
    if [ ${#missing[@]} -eq 0 ]; then
        log "system packages: all installed"
        return 0
    fi
    mkdir -p "$LOG_DIR"
    local apt_log
    apt_log=$(cd "$LOG_DIR" && pwd)/apt.log
    : >"$apt_log"
    log "installing: ${missing[*]} (log: $apt_log)"
    # Keep package scripts from starting the distro daemons (postgres, redis, postfix, dovecot):
    # we start exactly what we need ourselves, on our own ports.
    local own_policy=0 rc=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    if ! apt_lists_present; then
        apt-get update -q >>"$apt_log" 2>&1 || rc=$?
    fi
    if [ $rc = 0 ] && ! apt_install "$apt_log" "${missing[@]}"; then
        log "apt-get install failed, running apt-get update and retrying"
        { apt-get update -q >>"$apt_log" 2>&1 && apt_install "$apt_log" "${missing[@]}"; } || rc=$?
    fi
    [ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    if [ $rc != 0 ]; then
        tail -n 30 "$apt_log" >&2
        die "apt-get failed (exit $rc); full log: $apt_log"
    fi
    # On a systemd machine keep the distro mail units off (mailserver.sh runs its own instance).
    if has_systemd; then
        systemctl disable --now postfix.service dovecot.service >/dev/null 2>&1 || true
    fi
    log "system packages installed"
}

# ---------------------------------------------------------------- redis
redis_answers() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

cmd_ensure_redis() {
    command -v redis-cli >/dev/null || die "redis-cli not found (run: $0 install-system)"
    if redis_answers; then
        log "redis: using the one answering on 127.0.0.1:$REDIS_PORT"
        return 0
    fi
    need_root
    log "redis: starting redis-server on 127.0.0.1:$REDIS_PORT"
    mkdir -p /var/lib/redis /var/log/redis
    local args=(--daemonize yes --port "$REDIS_PORT" --save "" --appendonly no
        --dir /var/lib/redis --logfile "/var/log/redis/coiweb-$REDIS_PORT.log")
    # "-::1" = also ::1 if the machine has IPv6; older Redis (< 7) does not know the "-" prefix.
    redis-server --bind 127.0.0.1 -::1 "${args[@]}" </dev/null >/dev/null 2>&1 \
        || redis-server --bind 127.0.0.1 "${args[@]}" </dev/null >/dev/null 2>&1 \
        || { tail -n 20 "/var/log/redis/coiweb-$REDIS_PORT.log" >&2 2>/dev/null || true; die "redis-server failed to start"; }
    local n=100
    until redis_answers; do
        n=$((n - 1))
        if [ $n -le 0 ]; then
            tail -n 20 "/var/log/redis/coiweb-$REDIS_PORT.log" >&2 2>/dev/null || true
            die "redis-server does not answer on 127.0.0.1:$REDIS_PORT"
        fi
        sleep 0.1
    done
    log "redis: ready"
}

# ---------------------------------------------------------------- postgres
pg_answers() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1; }

wait_pg() {
    local n=150
    until pg_answers; do
        n=$((n - 1))
        [ $n -le 0 ] && return 1
        sleep 0.2
    done
}

newest_pg_version() { find /usr/lib/postgresql -maxdepth 3 -path '*/bin/postgres' 2>/dev/null | awk -F/ '{print $5}' | sort -V | tail -n 1; }

# "VERSION NAME STATUS" of the cluster configured for our port, if any
pg_cluster_on_port() { pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p {print $1, $2, $4; exit}'; }

pg_as_postgres() { (cd / && runuser -u postgres -- "$@"); }

# Make the cluster listen on 127.0.0.1 (listen_addresses = '' would allow only the unix socket).
pg_ensure_tcp() { # pg_ensure_tcp VERSION NAME
    local cur
    cur=$(pg_conftool "$1" "$2" show -s listen_addresses 2>/dev/null || true)
    case "$cur" in
        "" | *localhost* | *127.0.0.1* | *'*'* | *0.0.0.0*) return 1 ;;
    esac
    log "postgres: listen_addresses was '$cur', setting it to 'localhost'"
    pg_conftool "$1" "$2" set listen_addresses localhost
    return 0
}

pg_start_cluster() { # pg_start_cluster VERSION NAME ACTION
    if has_systemd; then
        pg_ctlcluster "$1" "$2" "$3"
    else
        pg_ctlcluster --skip-systemctl-redirect "$1" "$2" "$3"
    fi
}

start_postgres() {
    need_root
    command -v pg_lsclusters >/dev/null || die "postgresql is not installed (run: $0 install-system)"
    local cluster ver name status
    cluster=$(pg_cluster_on_port)
    if [ -z "$cluster" ]; then
        if [ -n "$(pg_lsclusters -h 2>/dev/null)" ]; then
            pg_lsclusters >&2
            die "postgres: no cluster is configured for port $PG_PORT (see above); move one there or free the port"
        fi
        ver=$(newest_pg_version)
        [ -n "$ver" ] || die "postgres: no server binaries in /usr/lib/postgresql (run: $0 install-system)"
        log "postgres: creating cluster $ver/main on port $PG_PORT"
        pg_createcluster --port "$PG_PORT" "$ver" main >/dev/null
        cluster=$(pg_cluster_on_port)
    fi
    read -r ver name status <<<"$cluster"
    if [ "$status" = online ]; then
        # running but not reachable over TCP: fix listen_addresses and restart
        pg_ensure_tcp "$ver" "$name" || die "postgres: cluster $ver/$name is online but 127.0.0.1:$PG_PORT does not answer"
        log "postgres: restarting cluster $ver/$name"
        pg_start_cluster "$ver" "$name" restart
    else
        pg_ensure_tcp "$ver" "$name" || true
        log "postgres: starting cluster $ver/$name"
        pg_start_cluster "$ver" "$name" start
    fi
    wait_pg || die "postgres: 127.0.0.1:$PG_PORT does not accept connections (log: /var/log/postgresql/postgresql-$ver-$name.log)"
}

ensure_role_and_db() {
    if ! getent passwd postgres >/dev/null \
        || ! pg_as_postgres psql -X -Atq -p "$PG_PORT" -d postgres -c 'select 1' >/dev/null 2>&1; then
        log "postgres: cannot connect as the local superuser; assuming role and database are managed elsewhere"
        return 0
    fi
    pg_as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres >/dev/null <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
  ELSE
    ALTER ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
  END IF;
END
\$\$;
SQL
    if [ "$(pg_as_postgres psql -X -Atq -p "$PG_PORT" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
        log "postgres: creating database $DB_NAME"
        pg_as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" >/dev/null
    fi
}

cmd_ensure_postgres() {
    command -v pg_isready >/dev/null || die "postgresql client tools not found (run: $0 install-system)"
    if pg_answers; then
        log "postgres: using the server on 127.0.0.1:$PG_PORT"
    else
        start_postgres
    fi
    need_root
    ensure_role_and_db
    local url="postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"
    psql -X -q "$url" -c 'select 1' >/dev/null \
        || die "postgres: cannot connect as $DB_USER to $DB_NAME on 127.0.0.1:$PG_PORT (check pg_hba.conf)"
    log "postgres: ready ($url)"
}

CMD=${1:-}
case "$CMD" in
    install-system) cmd_install_system ;;
    ensure-redis) cmd_ensure_redis ;;
    ensure-postgres) cmd_ensure_postgres ;;
    *) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
