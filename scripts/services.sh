#!/usr/bin/env bash
# Local PostgreSQL 15 and Redis for trialsite, as root or as a normal user.
#   scripts/services.sh start DIR   start (initialising DIR on first use); prints export lines
#   scripts/services.sh stop DIR    stop both servers (data kept)
#   scripts/services.sh purge DIR   stop both servers and delete DIR
#   scripts/services.sh running DIR exit 0 if both servers of DIR are running
# DIR must be reachable by the postgres user (e.g. under /tmp or /var/tmp, not /root).
# Two database roles: "trialsite" owns the tables and runs migrations; "trialsite_app" is what
# the web server and workers use: it owns nothing and can only read the audit trail.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
cmd=${1:?start|stop|purge}
RUN=${2:?directory}
OWNER=trialsite
APP=${DATABASE_APP_ROLE:-trialsite_app}
DB=trialsite

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

start() {
  mkdir -p "$RUN/pg" "$RUN/redis"
  chmod 755 "$RUN"
  [ "$(id -u)" = 0 ] && chown postgres: "$RUN/pg"
  local pgport rport fresh=""
  pgport=$(cat "$RUN/pg.port" 2>/dev/null || free_port)
  rport=$(cat "$RUN/redis.port" 2>/dev/null || free_port)
  if [ ! -f "$RUN/pg/data/PG_VERSION" ]; then
    as_pg "$PGBIN/initdb" -D "$RUN/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 -N \
      >"$RUN/initdb.log" 2>&1 || { cat "$RUN/initdb.log" >&2; exit 1; }
    fresh=1
  fi
  local durability=""
  [ -n "${THROWAWAY:-}" ] && durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  # random_page_cost: as docker-compose.yml's db (solid-state storage; the planner then reads a
  # site's rows by index rather than scanning the whole table).
  as_pg "$PGBIN/pg_ctl" -D "$RUN/pg/data" -l "$RUN/pg/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $pgport -k $RUN/pg -c random_page_cost=1.1 $durability" \
    start >/dev/null
  if [ -n "$fresh" ]; then
    "$PGBIN/psql" -q -h 127.0.0.1 -p "$pgport" -U postgres -d postgres -v ON_ERROR_STOP=1 <<SQL
CREATE ROLE $OWNER LOGIN CREATEDB;
CREATE ROLE $APP LOGIN;
CREATE DATABASE $DB OWNER $OWNER;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
    "$PGBIN/psql" -q -h 127.0.0.1 -p "$pgport" -U postgres -d "$DB" -v ON_ERROR_STOP=1 \
      -c "ALTER SCHEMA public OWNER TO $OWNER;"
  fi
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$RUN/redis" \
    --daemonize yes --pidfile "$RUN/redis/redis.pid" --logfile "$RUN/redis/redis.log"
  for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "$pgport" >"$RUN/pg.port"; echo "$rport" >"$RUN/redis.port"
  echo "export DATABASE_URL=postgres://$APP@127.0.0.1:$pgport/$DB"
  echo "export MIGRATION_DATABASE_URL=postgres://$OWNER@127.0.0.1:$pgport/$DB"
  echo "export REDIS_URL=redis://127.0.0.1:$rport/0"
}

stop() {
  if [ -f "$RUN/pg/data/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$RUN/pg/data" -m fast -w stop >/dev/null || true
  fi
  if [ -f "$RUN/redis/redis.pid" ]; then
    redis-cli -p "$(cat "$RUN/redis.port")" shutdown nosave >/dev/null 2>&1 \
      || kill "$(cat "$RUN/redis/redis.pid")" 2>/dev/null || true
  fi
}

purge() { stop; rm -rf "$RUN"; }

running() {
  [ -f "$RUN/pg.port" ] && [ -f "$RUN/redis.port" ] || return 1
  as_pg "$PGBIN/pg_ctl" -D "$RUN/pg/data" status >/dev/null 2>&1 || return 1
  redis-cli -p "$(cat "$RUN/redis.port")" ping >/dev/null 2>&1
}

"$cmd"
