#!/usr/bin/env bash
# Makes sure the services the tests need are up: NATS with JetStream and PostgreSQL.
# For a local address it starts what is installed but stopped, and installs (apt-get) what is
# missing when it may (root or passwordless sudo). A remote address is only checked.
# Honours NATS_URL and DATABASE_URL (defaults: nats://127.0.0.1:4222, postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail

NATS_URL="${NATS_URL:-nats://127.0.0.1:4222}"
DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

say() { printf 'ensure-services: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Where a Docker engine runs, the tests start what is missing in containers (testcontainers), so
# a service this script cannot provide is not fatal there.
docker_available() { [ -n "${DOCKER_HOST:-}" ] || [ -S /var/run/docker.sock ]; }
unavailable() {
  if docker_available; then say "$*; the tests will start it in a container"; return 0; fi
  die "$*"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1; fi
}

apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 \
    || { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 \
         && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

is_local() { case "$1" in 127.0.0.1|localhost|::1) return 0 ;; *) return 1 ;; esac; }

# --- NATS -------------------------------------------------------------------------------------
nats_hostport="${NATS_URL#*://}"; nats_hostport="${nats_hostport##*@}"; nats_hostport="${nats_hostport%%/*}"
nats_host="${nats_hostport%%:*}"; nats_port="${nats_hostport##*:}"; [ "$nats_port" = "$nats_hostport" ] && nats_port=4222

# A NATS server greets every connection with INFO; JetStream shows there as "jetstream":true.
nats_info() { timeout 3 bash -c "exec 3<>/dev/tcp/$nats_host/$nats_port && head -n 1 <&3" 2>/dev/null || true; }

nats_up() {
  info="$(nats_info)"
  [ -n "$info" ] && return 0
  is_local "$nats_host" || { unavailable "no NATS server answers at $NATS_URL"; return 1; }
  nats_bin="$(command -v nats-server || true)"
  [ -z "$nats_bin" ] && [ -x /usr/sbin/nats-server ] && nats_bin=/usr/sbin/nats-server
  if [ -z "$nats_bin" ]; then
    say "installing nats-server"
    apt_install nats-server || { unavailable "nats-server is missing and cannot be installed here (apt-get install nats-server)"; return 1; }
    nats_bin="$(command -v nats-server || echo /usr/sbin/nats-server)"
  fi
  say "starting nats-server with JetStream on $nats_host:$nats_port"
  if command -v start-stop-daemon >/dev/null && [ -w /var/lib ]; then
    suffix=""; [ "$nats_port" = 4222 ] || suffix="-$nats_port"
    mkdir -p "/var/lib/nats-server$suffix" /var/log
    # The pid file tells this server apart from one already running on another port.
    start-stop-daemon --start --oknodo --background --make-pidfile --pidfile "/var/run/nats-server$suffix.pid" \
      --exec "$nats_bin" -- -a "$nats_host" -p "$nats_port" -js -sd "/var/lib/nats-server$suffix" -l "/var/log/nats-server$suffix.log"
  else
    data="${TMPDIR:-/tmp}/mycelium-nats"; mkdir -p "$data"
    nohup "$nats_bin" -a "$nats_host" -p "$nats_port" -js -sd "$data" -l "$data/nats-server.log" >/dev/null 2>&1 &
  fi
  for _ in $(seq 1 50); do info="$(nats_info)"; [ -n "$info" ] && return 0; sleep 0.2; done
  die "nats-server did not come up on $nats_host:$nats_port"
}

if nats_up; then
  case "$info" in
    *'"jetstream":true'*) say "NATS with JetStream is up at $NATS_URL" ;;
    *) die "the NATS server at $NATS_URL runs without JetStream: restart it with -js" ;;
  esac
fi

# --- PostgreSQL -------------------------------------------------------------------------------
pg_rest="${DATABASE_URL#*://}"; pg_rest="${pg_rest##*@}"
pg_hostport="${pg_rest%%/*}"; pg_db="${pg_rest#*/}"; pg_db="${pg_db%%\?*}"
pg_host="${pg_hostport%%:*}"; pg_port="${pg_hostport##*:}"; [ "$pg_port" = "$pg_hostport" ] && pg_port=5432

pg_ready() { pg_isready -q -h "$pg_host" -p "$pg_port" 2>/dev/null; }
newest_cluster() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true; }

postgres_up() {
  command -v pg_isready >/dev/null && pg_ready && return 0
  is_local "$pg_host" || { unavailable "PostgreSQL does not answer at $pg_host:$pg_port"; return 1; }
  new_install=0
  if [ -z "$(newest_cluster)" ]; then
    say "installing PostgreSQL"
    apt_install postgresql || { unavailable "PostgreSQL is missing and cannot be installed here (apt-get install postgresql)"; return 1; }
    new_install=1
  fi
  cluster_version="$(newest_cluster)"
  [ -n "$cluster_version" ] || die "no PostgreSQL cluster in /etc/postgresql after installing it"
  if [ "$new_install" = 1 ]; then
    # A test machine: let local connections in without a password, as the tests expect.
    hba="/etc/postgresql/$cluster_version/main/pg_hba.conf"
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba" || die "cannot edit $hba"
  fi
  if pg_ready; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main reload || true
  else
    say "starting PostgreSQL $cluster_version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main start || die "could not start PostgreSQL $cluster_version"
  fi
  for _ in $(seq 1 50); do pg_ready && return 0; sleep 0.2; done
  die "PostgreSQL did not come up on $pg_host:$pg_port"
}

if postgres_up; then
  if [ -n "$pg_db" ] && ! psql "$DATABASE_URL" -Atqc 'SELECT 1' >/dev/null 2>&1; then
    admin_url="${DATABASE_URL%/*}/postgres"
    psql "$admin_url" -qc "CREATE DATABASE \"$pg_db\"" >/dev/null 2>&1 || die "cannot connect to $DATABASE_URL (check user, password and pg_hba.conf)"
    say "created database $pg_db"
  fi
  say "PostgreSQL is up at $pg_host:$pg_port"
fi
