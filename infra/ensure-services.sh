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

info="$(nats_info)"
if [ -z "$info" ]; then
  is_local "$nats_host" || die "no NATS server answers at $NATS_URL"
  nats_bin="$(command -v nats-server || true)"
  [ -z "$nats_bin" ] && [ -x /usr/sbin/nats-server ] && nats_bin=/usr/sbin/nats-server
  if [ -z "$nats_bin" ]; then
    say "installing nats-server"
    apt_install nats-server || die "nats-server is missing and cannot be installed here: apt-get install nats-server"
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
  for _ in $(seq 1 50); do info="$(nats_info)"; [ -n "$info" ] && break; sleep 0.2; done
  [ -n "$info" ] || die "nats-server did not come up on $nats_host:$nats_port"
fi
case "$info" in
  *'"jetstream":true'*) say "NATS with JetStream is up at $NATS_URL" ;;
  *) die "the NATS server at $NATS_URL runs without JetStream: restart it with -js" ;;
esac

# --- PostgreSQL -------------------------------------------------------------------------------
pg_rest="${DATABASE_URL#*://}"; pg_rest="${pg_rest##*@}"
pg_hostport="${pg_rest%%/*}"; pg_db="${pg_rest#*/}"; pg_db="${pg_db%%\?*}"
pg_host="${pg_hostport%%:*}"; pg_port="${pg_hostport##*:}"; [ "$pg_port" = "$pg_hostport" ] && pg_port=5432

pg_ready() { pg_isready -q -h "$pg_host" -p "$pg_port" 2>/dev/null; }

if ! command -v pg_isready >/dev/null; then
  is_local "$pg_host" || die "pg_isready is missing: install postgresql-client to check $DATABASE_URL"
  say "installing PostgreSQL"
  apt_install postgresql || die "PostgreSQL is missing and cannot be installed here: apt-get install postgresql"
  new_install=1
fi
if ! pg_ready; then
  is_local "$pg_host" || die "PostgreSQL does not answer at $pg_host:$pg_port"
  cluster_version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$cluster_version" ] || die "no PostgreSQL cluster in /etc/postgresql: apt-get install postgresql"
  if [ "${new_install:-0}" = 1 ]; then
    # A test machine: let local connections in without a password, as the tests expect.
    hba="/etc/postgresql/$cluster_version/main/pg_hba.conf"
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba" || true
  fi
  say "starting PostgreSQL $cluster_version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main start || die "could not start PostgreSQL $cluster_version"
  for _ in $(seq 1 50); do pg_ready && break; sleep 0.2; done
  pg_ready || die "PostgreSQL did not come up on $pg_host:$pg_port"
fi
if [ -n "$pg_db" ] && ! psql "$DATABASE_URL" -Atqc 'SELECT 1' >/dev/null 2>&1; then
  admin_url="${DATABASE_URL%/*}/postgres"
  psql "$admin_url" -qc "CREATE DATABASE \"$pg_db\"" >/dev/null 2>&1 || die "cannot connect to $DATABASE_URL (check user, password and pg_hba.conf)"
  say "created database $pg_db"
fi
say "PostgreSQL is up at $pg_host:$pg_port"
