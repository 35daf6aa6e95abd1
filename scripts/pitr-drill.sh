#!/usr/bin/env bash
# Point-in-time recovery drill, on throwaway clusters (docs/operations.md shows its output):
#  1. a primary with WAL archiving on (as docker-compose.yml with WAL_ARCHIVE_MODE=on), the
#     schema migrated and the demo study loaded;
#  2. a base backup (pg_basebackup), then a change the study wants to keep (a new site);
#  3. the time T is noted, then a mistake: a table of CRF data is dropped;
#  4. the base backup is recovered into a new data folder, replaying the archived WAL up to T;
#  5. the recovered copy has the new site and the dropped table, and its audit chain verifies.
# Everything is removed at the end.   scripts/pitr-drill.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || scripts/bootstrap.sh >&2

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
say() { printf '\n== %s\n' "$*"; }

WORK=$(mktemp -d /tmp/trialsite-pitr.XXXXXX)
chmod 755 "$WORK"
mkdir "$WORK/archive" "$WORK/base"
[ "$(id -u)" = 0 ] && chown postgres: "$WORK" "$WORK/archive" "$WORK/base"
PRIMARY=$(free_port)
RECOVERED=$(free_port)
cleanup() {
  for data in primary recovered; do
    [ -f "$WORK/$data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$WORK/$data" -m immediate -w stop >/dev/null 2>&1
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
sql() { "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$1" -U postgres -d trialsite -v ON_ERROR_STOP=1 -c "$2"; }
manage() {
  DATABASE_URL="postgres://trialsite_app@127.0.0.1:$1/trialsite" DEBUG=false \
    SECRET_KEY=pitr-drill-only HTTPS=false "$VENV/bin/python" manage.py "${@:2}"
}

say "primary with WAL archiving (archive_timeout 300 s: at most 5 minutes of changes unarchived)"
as_pg "$PGBIN/initdb" -D "$WORK/primary" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/primary" -l "$WORK/primary.log" -w start -o "-p $PRIMARY \
  -c listen_addresses=127.0.0.1 -k $WORK -c wal_level=replica -c archive_mode=on \
  -c archive_timeout=300 -c archive_command='test ! -f $WORK/archive/%f && cp %p $WORK/archive/%f'" >/dev/null
"$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PRIMARY" -U postgres -d postgres -v ON_ERROR_STOP=1 <<SQL
CREATE ROLE trialsite LOGIN CREATEDB;
CREATE ROLE trialsite_app LOGIN;
CREATE DATABASE trialsite OWNER trialsite;
SQL
sql "$PRIMARY" "ALTER SCHEMA public OWNER TO trialsite; REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
DATABASE_URL="postgres://trialsite@127.0.0.1:$PRIMARY/trialsite" DEBUG=false SECRET_KEY=pitr-drill-only \
  "$VENV/bin/python" manage.py migrate --no-input -v 0
manage "$PRIMARY" seed_demo | head -1
echo "participants: $(sql "$PRIMARY" "SELECT count(*) FROM enrollment_participant"), VAS pain forms: $(sql "$PRIMARY" "SELECT count(*) FROM outcomes_vaspain")"

say "base backup (pg_basebackup, as the nightly job runs it)"
as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY" -U postgres -D "$WORK/base" -Ft -z -Xs --checkpoint=fast
ls "$WORK/base"

say "a change after the base backup, to be kept: a new site"
manage "$PRIMARY" shell --no-imports -c "
from trialsite.sites.models import Site
Site.objects.create(code='KHI', name='Karachi (added after the base backup)', time_zone='Asia/Karachi')
print('sites:', ', '.join(Site.objects.order_by('code').values_list('code', flat=True)))"
sleep 1
TARGET=$(sql "$PRIMARY" "SELECT now()")
echo "T = $TARGET"
sleep 1

say "the mistake after T: a table of CRF data is dropped"
sql "$PRIMARY" "DROP TABLE outcomes_vaspain CASCADE"
echo "outcomes_vaspain exists: $(sql "$PRIMARY" "SELECT to_regclass('outcomes_vaspain') IS NOT NULL")"
# archive_timeout would archive the last segment within 5 minutes; the drill does not wait.
sql "$PRIMARY" "SELECT pg_switch_wal()" >/dev/null
for _ in $(seq 100); do
  [ "$(sql "$PRIMARY" "SELECT last_archived_wal = pg_walfile_name(pg_current_wal_lsn() - 1) OR last_archived_time > now() - interval '2 seconds' FROM pg_stat_archiver")" = t ] && break
  sleep 0.1
done
echo "archived WAL segments: $(ls "$WORK/archive" | grep -c -v '\.')"

say "recover the base backup into a new data folder, up to T"
mkdir -p "$WORK/recovered"
tar -xzf "$WORK/base/base.tar.gz" -C "$WORK/recovered"
rm -rf "$WORK/recovered/pg_wal"/*
cat >>"$WORK/recovered/postgresql.auto.conf" <<CONF
restore_command = 'cp $WORK/archive/%f %p'
recovery_target_time = '$TARGET'
recovery_target_action = 'promote'
CONF
touch "$WORK/recovered/recovery.signal"
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK/recovered" && chmod 700 "$WORK/recovered"
as_pg "$PGBIN/pg_ctl" -D "$WORK/recovered" -l "$WORK/recovered.log" -w -t 120 start \
  -o "-p $RECOVERED -c listen_addresses=127.0.0.1 -k $WORK -c archive_mode=off" >/dev/null
for _ in $(seq 300); do
  [ "$(sql "$RECOVERED" "SELECT pg_is_in_recovery()")" = f ] && break
  sleep 0.1
done
grep -E "starting point-in-time recovery|recovery stopping|archive recovery complete" "$WORK/recovered.log" \
  | sed -E 's/^[0-9-]+ [0-9:.]+ [A-Z]+ \[[0-9]+\] //'

say "the recovered copy"
echo "outcomes_vaspain exists: $(sql "$RECOVERED" "SELECT to_regclass('outcomes_vaspain') IS NOT NULL"), VAS pain forms: $(sql "$RECOVERED" "SELECT count(*) FROM outcomes_vaspain")"
manage "$RECOVERED" shell --no-imports -c "
from trialsite.sites.models import Site
from trialsite.audit import chain
print('sites:', ', '.join(Site.objects.order_by('code').values_list('code', flat=True)))
head = chain.seal()
verdict = chain.verify()
print(f'audit chain: {verdict.checked} links, verified: {verdict.ok}')"
say "drill complete: the copy holds the change made before T and none of the mistake"
