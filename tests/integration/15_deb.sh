#!/usr/bin/env bash
# The Debian package, end to end on this machine: make deb (dpkg-buildpackage
# on a copy of the tree), lintian without errors, apt-get install, the system
# user, the conffile (which refuses to start until configured), the units
# (installed, not enabled, systemd-analyze verify), sessiond started from the
# installed files the way sessiond.socket and sessiond.service start it
# (tests/tools/sdholder.py plays systemd), against this test's PostgreSQL,
# behind an nginx running the installed example site; an upgrade under wrk
# load to a version N+1 built here (a changelog entry and a harmless
# migration of the test's own, never committed) answers nothing but 2xx and
# leaves N+1 serving; then apt-get purge, and nothing left but what Debian policy keeps (the sessiond
# user and group, which this test then removes when it created them). The
# machine is left as the test found it: same packages, users and groups.
# It installs /etc/sessiond and /usr/sbin/sessiond: no file that needs them absent runs beside it.
# tests/run: lock etc-sessiond
# tests/run: timeout 900
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	fail "the package test installs a .deb: run it as root"
	exit 1
fi
for t in dpkg-buildpackage lintian apt-get setpriv systemd-analyze nginx; do
	command -v "$t" >/dev/null || { fail "$t is missing (scripts/setup-deps installs it)"; exit 1; }
done
# One package test at a time on this machine.
exec 9>/var/lock/sessiond-deb-test.lock
flock -w 600 9 || { fail "another package test holds /var/lock/sessiond-deb-test.lock"; exit 1; }
if dpkg-query -W -f='${Status}' sessiond 2>/dev/null | grep -q 'installed\|config-files'; then
	fail "a sessiond package is already on this machine; refusing to replace and purge it"
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o DPkg::Lock::Timeout=300)
packages() { dpkg-query -W -f='${Package}:${Architecture} ${Version} ${Status}\n' | sort; }
packages >"${TMPDIR:-/tmp}/sessiond-deb-before.$$"
PKGS_BEFORE="${TMPDIR:-/tmp}/sessiond-deb-before.$$"
HAD_USER=0; getent passwd sessiond >/dev/null && HAD_USER=1
HAD_GROUP=0; getent group sessiond >/dev/null && HAD_GROUP=1
WWW_IN_GROUP=0; id -nG www-data 2>/dev/null | tr ' ' '\n' | grep -qx sessiond && WWW_IN_GROUP=1
HAD_RUN=0; [ -e /run/sessiond ] && HAD_RUN=1

# The servers started below must not inherit the lock (fd 9): it would outlive the test.
stack_up 9>&-
NGX=$VAR/nginx-pkg
HOLDER=""
LOAD_PID=""
NEXT_BUILD=""
# Whatever happens, the machine goes back to how it was.
restore() {
	[ -n "$LOAD_PID" ] && kill -INT "$LOAD_PID" 2>/dev/null
	[ -n "$NEXT_BUILD" ] && kill -TERM "$NEXT_BUILD" 2>/dev/null && wait "$NEXT_BUILD" 2>/dev/null
	# The holder stops sessiond (SIGTERM) and waits for it, as systemd's stop job does.
	[ -n "$HOLDER" ] && kill -TERM "$HOLDER" 2>/dev/null && wait "$HOLDER" 2>/dev/null
	[ -f "$NGX/nginx.pid" ] && nginx -p "$NGX" -c "$NGX/nginx.conf" -s stop 2>/dev/null
	if dpkg-query -W -f='${Status}' sessiond 2>/dev/null | grep -q 'installed\|config-files'; then
		"${APT[@]}" purge sessiond >/dev/null 2>&1
	fi
	rm -f /etc/sessiond/jwks.json /etc/sessiond/sessiond.conf.dpkg-*
	rmdir /etc/sessiond 2>/dev/null
	[ "$WWW_IN_GROUP" = 0 ] && getent group sessiond >/dev/null && gpasswd -d www-data sessiond >/dev/null 2>&1
	[ "$HAD_USER" = 0 ] && getent passwd sessiond >/dev/null && deluser --system --quiet sessiond >/dev/null 2>&1
	[ "$HAD_GROUP" = 0 ] && getent group sessiond >/dev/null && delgroup --system --quiet sessiond >/dev/null 2>&1
	[ "$HAD_RUN" = 0 ] && rm -rf /run/sessiond
	rm -f "$PKGS_BEFORE"
	stack_down
}
trap restore EXIT

# --- build -----------------------------------------------------------------------------------------
VERSION=$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' "$TOP/debian/changelog")
ARCH=$(dpkg --print-architecture)
DEB=$TOP/build/deb/sessiond_${VERSION}_${ARCH}.deb
T0=$(date +%s)
phase() { echo "note: $1 took $(( $(date +%s) - T0 )) s"; T0=$(date +%s); }
if make -C "$TOP" --no-print-directory deb >"$VAR/deb-build.log" 2>&1 && [ -f "$DEB" ]; then
	pass "make deb built $(basename "$DEB")"
else
	fail "make deb: $(tail -15 "$VAR/deb-build.log")"
	exit 1
fi
[ "$(cd "$TOP/build/deb" && ls)" = "$(printf '%s\n' build.log "sessiond_${VERSION}_${ARCH}.buildinfo" "sessiond_${VERSION}_${ARCH}.changes" "sessiond_${VERSION}_${ARCH}.deb")" ] &&
	pass "build/deb holds the .deb, .buildinfo, .changes and the build log, and no build tree" || fail "build/deb: $(ls "$TOP/build/deb")"
[ -z "$(find "$(dirname "$TOP")" -maxdepth 1 -name "sessiond_${VERSION}*" -newer "$TOP/debian/changelog")" ] &&
	pass "nothing written next to the checkout" || fail "files in $(dirname "$TOP"): $(find "$(dirname "$TOP")" -maxdepth 1 -name "sessiond_*")"
[ "$(dpkg-deb -f "$DEB" Version)" = "$("$BUILD/sessiond" --version | cut -d' ' -f2)" ] &&
	pass "one version: the package's equals sessiond --version ($VERSION)" || fail "version: $(dpkg-deb -f "$DEB" Version) vs $("$BUILD/sessiond" --version)"

phase "make deb"
# Version N+1, built meanwhile from a copy of this tree: a changelog entry and a
# harmless migration (a column the running version does not know), the test's own.
NEXT_VERSION="$VERSION+upgradetest1"
NEXT_SRC=$VAR/next
NEXT_DEB=$NEXT_SRC/build/deb/sessiond_${NEXT_VERSION}_${ARCH}.deb
last_sql=$(basename "$(ls "$TOP"/sql/[0-9][0-9][0-9]_*.sql | tail -1)")
PROBE_SQL=$(printf '%03d' $((10#${last_sql%%_*} + 1)))_deb_upgrade_probe.sql
mkdir -p "$NEXT_SRC"
(cd "$TOP" && tar --exclude=./build --exclude='./build-*' --exclude=./var --exclude=./.git -cf - .) | tar -xf - -C "$NEXT_SRC"
{ printf 'sessiond (%s) unstable; urgency=medium\n\n  * 15_deb upgrade test: version N+1 with a harmless migration.\n\n -- sessiond maintainers <sessiond@example.org>  %s\n\n' \
	"$NEXT_VERSION" "$(date -R)"; cat "$TOP/debian/changelog"; } >"$NEXT_SRC/debian/changelog"
cat >"$NEXT_SRC/sql/$PROBE_SQL" <<'SQL'
-- 15_deb's upgrade test only (never committed): a nullable column without a
-- default, which PostgreSQL adds without rewriting the table; the version
-- that is still running neither reads nor writes it.
ALTER TABLE sessions ADD COLUMN deb_upgrade_probe integer;
SQL
make -C "$NEXT_SRC" --no-print-directory deb >"$VAR/deb-next-build.log" 2>&1 9>&- &
NEXT_BUILD=$!
# --- lintian ------------------------------------------------------------------------------------------
lintian --fail-on error "$DEB" >"$VAR/lintian.log" 2>&1
lrc=$?
if [ "$lrc" -eq 0 ] && ! grep -q '^E:' "$VAR/lintian.log"; then pass "lintian: no errors"; else fail "lintian (exit $lrc): $(grep -v '^[WIN]:' "$VAR/lintian.log")"; fi
grep '^[WI]:' "$VAR/lintian.log" | sed 's/^/note: lintian /'

phase lintian
# --- install -----------------------------------------------------------------------------------------
"${APT[@]}" install "$DEB" >"$VAR/apt-install.log" 2>&1 && pass "apt-get install ./$(basename "$DEB")" ||
	{ fail "apt-get install: $(tail -10 "$VAR/apt-install.log")"; exit 1; }
phase "apt-get install"
IFS=: read -r _ _ uid gid _ home shell <<<"$(getent passwd sessiond)"
[ -n "${uid:-}" ] && [ "$uid" -lt 1000 ] && [ "$(getent group sessiond | cut -d: -f3)" = "$gid" ] &&
	[ "$home" = /nonexistent ] && [ "$shell" = /usr/sbin/nologin ] &&
	pass "system user and group sessiond (uid $uid, no home, no login shell)" || fail "user: $(getent passwd sessiond)"
dpkg-query -W -f='${Conffiles}\n' sessiond | grep -q '^ /etc/sessiond/sessiond.conf [0-9a-f]\{32\}$' &&
	pass "/etc/sessiond/sessiond.conf is a conffile" || fail "conffiles: $(dpkg-query -W -f='${Conffiles}' sessiond)"
[ "$(stat -c '%U:%G %a' /etc/sessiond/sessiond.conf)" = "root:sessiond 640" ] &&
	pass "conffile root:sessiond 0640" || fail "conffile mode: $(stat -c '%U:%G %a' /etc/sessiond/sessiond.conf)"
[ "$(stat -c '%U:%G %a' /run/sessiond 2>/dev/null)" = "sessiond:sessiond 750" ] &&
	pass "/run/sessiond from tmpfiles.d (sessiond:sessiond 0750)" || fail "/run/sessiond: $(stat -c '%U:%G %a' /run/sessiond 2>&1)"
missing=""
for f in /usr/sbin/sessiond /usr/sbin/cleanup_sessions /usr/sbin/sessionctl /usr/sbin/sessiond-spawn-fcgi \
	/usr/share/doc/sessiond/examples/nginx/sessiond.conf /usr/share/doc/sessiond/examples/apache/sessiond.conf \
	/lib/systemd/system/sessiond.service /lib/systemd/system/sessiond.socket /lib/systemd/system/sessiond-cleanup.service \
	/lib/systemd/system/sessiond-cleanup.timer; do
	[ -f "$f" ] || missing="$missing $f"
done
for f in "$TOP"/sql/[0-9][0-9][0-9]_*.sql; do cmp -s "$f" "/usr/share/sessiond/sql/$(basename "$f")" || missing="$missing sql/$(basename "$f")"; done
for p in sessiond.8 cleanup_sessions.8 sessionctl.8 sessiond-spawn-fcgi.8 sessiond.conf.5; do
	[ -f "/usr/share/man/man${p##*.}/$p.gz" ] || missing="$missing $p"
done
[ -z "$missing" ] && pass "programs, migrations, man pages, units and site examples installed" || fail "not installed:$missing"
enabled=$(find /etc/systemd/system -name 'sessiond*' 2>/dev/null)
[ -z "$enabled" ] && pass "no unit enabled by the package" || fail "enabled: $enabled"
for u in sessiond.service sessiond.socket sessiond-cleanup.service sessiond-cleanup.timer; do
	out=$(systemd-analyze verify --man=no "/lib/systemd/system/$u" 2>&1)
	[ -z "$out" ] && pass "systemd-analyze verify $u" || fail "systemd-analyze verify $u: $out"
done
# What the maintainer scripts do with the units where systemd runs: a fresh
# install starts nothing; an upgrade try-restarts only sessiond.service (after
# the migrations), stops nothing before it, and never restarts the socket.
pi=/var/lib/dpkg/info/sessiond.postinst
grep -q "deb-systemd-invoke try-restart 'sessiond.service'" "$pi" && ! grep -Eq "deb-systemd-invoke (start|restart)|try-restart .*socket" "$pi" &&
	[ "$(grep -n 'deb-systemd-invoke try-restart' "$pi" | head -1 | cut -d: -f1)" -gt "$(grep -n -- '--migrate;' "$pi" | tail -1 | cut -d: -f1)" ] &&
	pass "postinst: no start on install; on upgrade the migrations, then try-restart of sessiond.service only" ||
	fail "postinst: $(grep -n 'deb-systemd-invoke\|--migrate' "$pi")"
! grep -qs 'deb-systemd-invoke stop' /var/lib/dpkg/info/sessiond.preinst &&
	grep -q "deb-systemd-invoke stop sessiond.service sessiond.socket" /var/lib/dpkg/info/sessiond.prerm &&
	pass "nothing stopped before an upgrade; service and socket stopped on removal" || fail "preinst/prerm: $(cat /var/lib/dpkg/info/sessiond.preinst /var/lib/dpkg/info/sessiond.prerm 2>&1)"

# --- unconfigured: refuses to start, says why -----------------------------------------------------------------
out=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/sbin/sessiond --check-config 2>&1)
rc=$?
[ "$rc" -ne 0 ] && grep -q 'jwt_issuer and jwt_audience must be set' <<<"$out" &&
	pass "the shipped conffile refuses to start until jwt_issuer/jwt_audience are set (exit $rc)" || fail "unconfigured: rc=$rc $out"
grep -q 'REFUSES TO START until you set jwt_issuer and jwt_audience' /etc/sessiond/sessiond.conf &&
	pass "the conffile says so at the top" || fail "conffile header"

# --- configure as an operator would, start as sessiond.socket and sessiond.service do --------------------
install -m 0644 "$KEYS/jwks.json" /etc/sessiond/jwks.json
cat >>/etc/sessiond/sessiond.conf <<CONF
database_url = host=$PGSOCK dbname=sessiond user=sessiond
jwks_file = /etc/sessiond/jwks.json
jwt_issuer = $ISSUER
jwt_audience = $AUDIENCE
cookie_secure = off
cookie_name = session_token
CONF
unit=/lib/systemd/system/sessiond.service
sunit=/lib/systemd/system/sessiond.socket
u_user=$(sed -n 's/^User=//p' "$unit"); u_group=$(sed -n 's/^Group=//p' "$unit"); u_umask=$(sed -n 's/^UMask=//p' "$unit")
u_pre=$(sed -n 's/^ExecStartPre=//p' "$unit"); u_start=$(sed -n 's/^ExecStart=//p' "$unit")
u_rtdir=$(sed -n 's/^RuntimeDirectory=//p' "$unit"); u_rtmode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit")
s_listen=$(sed -n 's/^ListenStream=//p' "$sunit"); s_mode=$(sed -n 's/^SocketMode=//p' "$sunit")
s_user=$(sed -n 's/^SocketUser=//p' "$sunit"); s_group=$(sed -n 's/^SocketGroup=//p' "$sunit")
[ "$u_user:$u_group" = sessiond:sessiond ] && [ "${u_start%% *}" = /usr/sbin/sessiond ] &&
	pass "the unit runs /usr/sbin/sessiond as sessiond:sessiond" || fail "unit: $u_user:$u_group $u_start"
[ "$(sed -n 's/^Type=//p' "$unit")" = notify ] && [ "$s_listen" = /run/sessiond/sessiond.sock ] &&
	pass "Type=notify, on the socket sessiond.socket holds at $s_listen" || fail "units: $(grep -h '^Type=\|^ListenStream=' "$unit" "$sunit")"
as_unit() { setpriv --reuid="$u_user" --regid="$u_group" --init-groups sh -c "umask $u_umask; exec \"\$@\"" sh "$@"; }
install -d -o "$u_user" -g "$u_group" -m "$u_rtmode" "/run/$u_rtdir"   # RuntimeDirectory=
# shellcheck disable=SC2086
out=$(as_unit $u_pre 2>&1) && pass "ExecStartPre (--check-config) passes as sessiond, reading the 0640 conffile" || fail "ExecStartPre: $out"
out=$(/usr/sbin/sessiond --migrate --config /etc/sessiond/sessiond.conf 2>&1) && grep -q '(0 applied)' <<<"$out" &&
	pass "the installed sessiond finds its migrations in /usr/share/sessiond/sql (all applied)" || fail "--migrate: $out"
# The holder binds the socket as the socket unit says and starts the service
# command as the unit does (ExecStartPre first, then ExecStart as its user with
# its umask; setpriv and sh exec, so LISTEN_PID is sessiond's own pid).
EV=$VAR/holder.events
SDLOG=$VAR/log/sessiond-pkg.log
: >"$SDLOG"
chmod 0644 "$SDLOG"
as_unit_cmd="setpriv --reuid=$u_user --regid=$u_group --init-groups sh -c 'umask $u_umask; exec \"\$@\"' sh"
python3 "$TOP/tests/tools/sdholder.py" --listen "$s_listen" --mode "$s_mode" --user "$s_user" --group "$s_group" \
	--notify "$VAR/notify.sock" --events "$EV" --log "$SDLOG" --output "$SDLOG" --pre "$as_unit_cmd $u_pre" -- \
	setpriv --reuid="$u_user" --regid="$u_group" --init-groups sh -c "umask $u_umask; exec \"\$@\"" sh $u_start 9>&- &
HOLDER=$!
ready_count() { cat "$EV" 2>/dev/null | grep -c ' ready pid='; }
wait_until 60 eval '[ "$(ready_count)" -ge 1 ]' || fail "no READY=1 within 60 s: $(cat "$EV"); $(tail -3 "$SDLOG")"
SD_PID=$(grep ' start pid=' "$EV" | tail -1 | sed 's/.*pid=//')
nw=$(sed -n 's/.*event=master_ready workers=//p' "$SDLOG" | tail -1)
grep -q " ready pid=$SD_PID sender=$SD_PID workers_ready=$nw " "$EV" && [ "${nw:-0}" -gt 0 ] &&
	pass "READY=1 from sessiond once its $nw workers accept (Type=notify)" || fail "ready: $(cat "$EV")"
[ "$(stat -c '%U:%G %a' /run/sessiond/sessiond.sock 2>/dev/null)" = "sessiond:sessiond 660" ] &&
	pass "listening on /run/sessiond/sessiond.sock (sessiond:sessiond 0660, from the socket unit)" || fail "socket: $(stat -c '%U:%G %a' /run/sessiond/sessiond.sock 2>&1); $(tail -3 "$SDLOG")"
[ "$(ps -o user= -p "$SD_PID" | tr -d ' ')" = sessiond ] && pass "the master runs as sessiond" || fail "master user: $(ps -o user= -p "$SD_PID")"

# nginx with the installed site, only the listen port changed; www-data joins the group as the docs say.
adduser --quiet www-data sessiond
PPORT=$(free_port)
mkdir -p "$NGX"
cp /etc/nginx/fastcgi_params "$NGX/"
sed "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$PPORT;|" /usr/share/doc/sessiond/examples/nginx/sessiond.conf >"$NGX/site.conf"
nginx_conf "$NGX" "$VAR/log/nginx-pkg-error.log" 64 <<CONF
    access_log $VAR/log/nginx-pkg-access.log;
    include $NGX/site.conf;
CONF
nginx -p "$NGX" -c "$NGX/nginx.conf" 9>&- && pass "nginx with the installed example site" || fail "nginx: $(tail -3 "$VAR/log/nginx-pkg-error.log")"

# --- API smoke through nginx, sessionctl and cleanup_sessions from the package -------------------------
BASE="http://127.0.0.1:$PPORT"
wait_health "$BASE"
req GET /api/sessions/health/
expect_status 200 "health through nginx"
expect_json '.store' ok "store reachable from the packaged sessiond"
jwt=$(mint_jwt "$(std_claims 'auth0|pkg')")
req POST /api/sessions/create/ -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' -d '{}'
expect_status 201 "create"
TOKEN=$(jq_body '.session_token // empty'); SID=$(jq_body '.session.id // empty')
req GET /api/sessions/current/ -H "Authorization: Session $TOKEN"
expect_status 200 "current"
out=$(/usr/sbin/sessionctl --json list --user 'auth0|pkg')
[ "$(jq -r '[.sessions[].id] | join(",")' <<<"$out")" = "$SID" ] && pass "installed sessionctl lists the session" || fail "sessionctl list: $out"
/usr/sbin/sessionctl revoke --by deb-test "$SID" >/dev/null && pass "installed sessionctl revokes it" || fail "sessionctl revoke"
for _ in $(seq 1 50); do
	req GET /api/sessions/current/ -H "Authorization: Session $TOKEN"
	[ "$STATUS" = 401 ] && break
	sleep 0.02
done
expect_status 401 "the revoked session is refused through nginx"
out=$(as_unit /usr/sbin/cleanup_sessions --config /etc/sessiond/sessiond.conf --dry-run 2>&1) &&
	pass "cleanup_sessions --dry-run as sessiond (the timer's unit user)" || fail "cleanup_sessions: $out"
phase "install, start and smoke"

# --- upgrade to N+1 under load ---------------------------------------------------------------------------------
ACCESS=$VAR/log/nginx-pkg-access.log
lines() { wc -l <"$1"; }
if wait "$NEXT_BUILD" && [ -f "$NEXT_DEB" ]; then
	pass "version N+1 ($NEXT_VERSION, with $PROBE_SQL) built"
else
	fail "N+1 build: $(tail -15 "$VAR/deb-next-build.log")"
fi
NEXT_BUILD=""
phase "the N+1 build (beyond the install and smoke)"
req POST /api/sessions/create/ -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' -d '{}'
expect_status 201 "a session for the load"
LT=$(jq_body '.session_token // empty')
secret_note "$LT"
wrk -t1 -c32 -d300s --timeout 10s -H "Authorization: Session $LT" "$BASE/api/sessions/current/" >"$VAR/wrk-upgrade.txt" 2>&1 9>&- &
LOAD_PID=$!
m=$(lines "$ACCESS")
wait_until 30 eval '[ "$(lines "$ACCESS")" -ge $((m + 2000)) ]' || fail "the load did not start"
from=$(lines "$ACCESS")
old_pid=$SD_PID
t_up=$(date +%s.%N)
"${APT[@]}" install "$NEXT_DEB" >"$VAR/apt-upgrade.log" 2>&1 9>&- && pass "apt-get install N+1 over N (an upgrade)" ||
	fail "apt-get install N+1: $(tail -10 "$VAR/apt-upgrade.log")"
[ "$(dpkg-query -W -f='${Version}' sessiond)" = "$NEXT_VERSION" ] && pass "dpkg has $NEXT_VERSION" || fail "version: $(dpkg-query -W -f='${Version}' sessiond)"
grep -q 'migrations up to date (1 applied)' "$VAR/apt-upgrade.log" && [ "$(psql_q "SELECT count(*) FROM information_schema.columns WHERE table_name = 'sessions' AND column_name = 'deb_upgrade_probe'")" = 1 ] &&
	pass "postinst applied N+1's migration ($PROBE_SQL) before any restart" || fail "upgrade migration: $(grep -i migrat "$VAR/apt-upgrade.log")"
# The old binary, still the one serving, on the migrated schema.
kill -0 "$old_pid" && m=$(lines "$ACCESS") && wait_until 30 eval '[ "$(lines "$ACCESS")" -ge $((m + 1000)) ]' && kill -0 "$old_pid" &&
	pass "the old version keeps serving on the migrated schema" || fail "old version after the migration"
# Not PID 1 here, so postinst's try-restart did nothing: do what it does (the unit's stop, then its start).
n=$(ready_count)
kill -HUP "$HOLDER"
wait_until 60 eval '[ "$(ready_count)" -gt "$n" ]' || fail "no READY=1 from N+1: $(tail -5 "$SDLOG")"
SD_PID=$(grep ' start pid=' "$EV" | tail -1 | sed 's/.*pid=//')
m=$(lines "$ACCESS")
wait_until 30 eval '[ "$(lines "$ACCESS")" -ge $((m + 2000)) ]' || fail "N+1 served too little"
to=$(lines "$ACCESS")
up_s=$(echo "$(date +%s.%N) - $t_up" | bc)
if kill -0 "$LOAD_PID" 2>/dev/null; then kill -INT "$LOAD_PID"; wait "$LOAD_PID"; else fail "wrk ended before the check: $(cat "$VAR/wrk-upgrade.txt")"; fi
LOAD_PID=""
st=$(sed -n "$((from + 1)),${to}p" "$ACCESS" | awk '{print $9}' | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
bad=$(sed -n "$((from + 1)),${to}p" "$ACCESS" | awk '$9 !~ /^2/' | wc -l)
[ $((to - from)) -gt 4000 ] && [ "$bad" -eq 0 ] && pass "upgrade under load: $((to - from)) requests through nginx, 0 other than 2xx ($st)" ||
	fail "upgrade under load: $bad of $((to - from)) not 2xx ($st)"
echo "note: upgrade (apt-get install N+1 with its migration, then the restart) took $up_s s; wrk $(grep 'requests in' "$VAR/wrk-upgrade.txt" | sed 's/^ *//'), latency max $(awk '/Latency/ {print $4}' "$VAR/wrk-upgrade.txt")"
grep -q "pid=$SD_PID event=start version=$NEXT_VERSION listen=passed_fd3 " "$SDLOG" && [ "$(readlink "/proc/$SD_PID/exe")" = /usr/sbin/sessiond ] &&
	pass "N+1 ($NEXT_VERSION, the installed /usr/sbin/sessiond) serves on the same socket" || fail "new master: $(grep 'event=start' "$SDLOG" | tail -2); $(readlink "/proc/$SD_PID/exe")"
req GET /api/sessions/health/
expect_status 200 "N+1 answers /health/ through nginx"
phase "upgrade under load"

nginx -p "$NGX" -c "$NGX/nginx.conf" -s stop
kill -TERM "$HOLDER"
wait "$HOLDER"
HOLDER=""
grep -q " exit pid=$SD_PID status=0" "$EV" && ! kill -0 "$SD_PID" 2>/dev/null && pass "sessiond stops on SIGTERM (KillSignal)" || fail "sessiond did not stop on SIGTERM: $(tail -3 "$EV")"
[ -S /run/sessiond/sessiond.sock ] && pass "the socket outlives the service (it belongs to the socket unit)" || fail "socket removed with the service"
SD_PID=""
pgrep -u sessiond >/dev/null && fail "processes of sessiond left: $(pgrep -u sessiond -a)" || pass "no process of the sessiond user left"

# --- purge: nothing left but what policy keeps ----------------------------------------------------------
dpkg -L sessiond | while read -r f; do [ -f "$f" ] && echo "$f"; done >"$VAR/pkg-files"
"${APT[@]}" purge sessiond >"$VAR/apt-purge.log" 2>&1 && pass "apt-get purge sessiond" || fail "purge: $(tail -5 "$VAR/apt-purge.log")"
phase "apt-get purge"
left=$(while read -r f; do [ -e "$f" ] && echo "$f"; done <"$VAR/pkg-files")
[ -z "$left" ] && [ "$(wc -l <"$VAR/pkg-files")" -gt 30 ] && pass "all $(wc -l <"$VAR/pkg-files") packaged files are gone" || fail "left after purge: $left"
[ "$(ls -A /etc/sessiond 2>&1)" = jwks.json ] && pass "purge removed the conffile; the operator's jwks.json stays" || fail "/etc/sessiond after purge: $(ls -A /etc/sessiond 2>&1)"
rm -f /etc/sessiond/jwks.json && rmdir /etc/sessiond
[ ! -e /run/sessiond ] && pass "/run/sessiond removed" || fail "/run/sessiond left"
dpkg-query -W sessiond >/dev/null 2>&1 && fail "dpkg still knows sessiond: $(dpkg-query -W -f='${Status}' sessiond)" || pass "dpkg no longer knows the package"
leftovers=$(find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
	/usr/lib/tmpfiles.d /var/lib/dpkg/info -name '*sessiond*' 2>/dev/null)
[ -z "$leftovers" ] && pass "no unit links, helper state, tmpfiles or maintainer scripts left" || fail "leftovers: $leftovers"
getent passwd sessiond >/dev/null && pass "the sessiond user is kept on purge (Debian policy)" || fail "purge removed the system user"
gpasswd -d www-data sessiond >/dev/null 2>&1
[ "$HAD_USER" = 0 ] && deluser --system --quiet sessiond >/dev/null 2>&1
[ "$HAD_GROUP" = 0 ] && getent group sessiond >/dev/null && delgroup --system --quiet sessiond >/dev/null 2>&1
if [ "$HAD_USER$HAD_GROUP" = 00 ]; then
	! getent passwd sessiond >/dev/null && ! getent group sessiond >/dev/null &&
		pass "the user and group this test caused are removed again" || fail "sessiond user/group left"
fi
diff <(packages) "$PKGS_BEFORE" >"$VAR/pkg-diff" && pass "the installed package set is exactly as before" || fail "packages changed: $(cat "$VAR/pkg-diff")"
