#!/usr/bin/env bash
# Make sure a PostgreSQL with PostGIS answers, and print the DATABASE_URL to use.
#  - DATABASE_URL set: use it as it is (installing nothing; migrate says if PostGIS is missing).
#  - otherwise the local server on 127.0.0.1:5432, or its Unix socket; PostgreSQL 15 is
#    installed and started when none runs, and postgresql-15-postgis-3 when the extension is
#    missing (Debian; needs root).
#  - WITH_PGROUTING=1 (the recommended-units benchmark only): also postgresql-15-pgrouting when
#    the pgrouting extension is missing (not with DATABASE_URL set).
set -euo pipefail
DB_NAME="${DB_NAME:-geo_service}"
log() { printf '%s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq >&2; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >&2
}

if [ -n "${DATABASE_URL:-}" ]; then
  printf '%s\n' "$DATABASE_URL"
  exit 0
fi

tcp_url="postgresql://postgres@127.0.0.1:5432/${DB_NAME}"
socket_url="postgresql://postgres@/${DB_NAME}?host=/var/run/postgresql"

if ! command -v pg_isready >/dev/null 2>&1 || ! { pg_isready -q -h 127.0.0.1 -p 5432 || pg_isready -q; }; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "no PostgreSQL here: installing postgresql-15"
    apt_install postgresql-15
    # A fresh cluster: let local connections as postgres in without a password (a dev machine).
    hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -n 1)
    sed -i -E 's/^(local\s+all\s+postgres\s+)peer/\1trust/; s/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/' "$hba"
  fi
  log "starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; pg_isready -q && break; sleep 1; done
fi

if pg_isready -q -h 127.0.0.1 -p 5432; then url="$tcp_url"; psql_args=(-h 127.0.0.1 -p 5432 -U postgres)
else url="$socket_url"; psql_args=(-U postgres); fi

has_postgis() {
  psql "${psql_args[@]}" -d postgres -Atc \
    "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'" 2>/dev/null | grep -q 1
}
if ! has_postgis; then
  version=$(psql "${psql_args[@]}" -d postgres -Atc "SHOW server_version_num" | cut -c1-2)
  log "PostGIS missing: installing postgresql-${version}-postgis-3"
  apt_install "postgresql-${version}-postgis-3"
  has_postgis || { log "PostGIS is still not available after installing it"; exit 1; }
fi
# Opt-in: pgRouting, which only the recommended-units benchmark uses (bench/recommend.py).
if [ "${WITH_PGROUTING:-0}" = 1 ] && ! psql "${psql_args[@]}" -d postgres -Atc \
    "SELECT 1 FROM pg_available_extensions WHERE name = 'pgrouting'" 2>/dev/null | grep -q 1; then
  version=$(psql "${psql_args[@]}" -d postgres -Atc "SHOW server_version_num" | cut -c1-2)
  log "WITH_PGROUTING=1: installing postgresql-${version}-pgrouting"
  apt_install "postgresql-${version}-pgrouting"
fi
printf '%s\n' "$url"
