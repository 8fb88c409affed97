#!/usr/bin/env bash
# The Debian package, end to end on this machine: make deb (dpkg-buildpackage
# on a copy of the tree), lintian without errors, apt-get install, the system
# user, the conffile (which refuses to start until configured), the units
# (installed, not enabled, systemd-analyze verify), sessiond started from the
# installed files the way sessiond.service starts it, against this test's
# PostgreSQL, behind an nginx running the installed example site; then
# apt-get purge, and nothing left but what Debian policy keeps (the sessiond
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
SD_PID=""
# Whatever happens, the machine goes back to how it was.
restore() {
	[ -n "$SD_PID" ] && kill -TERM "$SD_PID" 2>/dev/null && sleep 1
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
	/lib/systemd/system/sessiond.service /lib/systemd/system/sessiond-cleanup.service /lib/systemd/system/sessiond-cleanup.timer; do
	[ -f "$f" ] || missing="$missing $f"
done
for f in "$TOP"/sql/[0-9][0-9][0-9]_*.sql; do cmp -s "$f" "/usr/share/sessiond/sql/$(basename "$f")" || missing="$missing sql/$(basename "$f")"; done
for p in sessiond.8 cleanup_sessions.8 sessionctl.8 sessiond-spawn-fcgi.8 sessiond.conf.5; do
	[ -f "/usr/share/man/man${p##*.}/$p.gz" ] || missing="$missing $p"
done
[ -z "$missing" ] && pass "programs, migrations, man pages, units and site examples installed" || fail "not installed:$missing"
enabled=$(find /etc/systemd/system -name 'sessiond*' 2>/dev/null)
[ -z "$enabled" ] && pass "no unit enabled by the package" || fail "enabled: $enabled"
for u in sessiond.service sessiond-cleanup.service sessiond-cleanup.timer; do
	out=$(systemd-analyze verify --man=no "/lib/systemd/system/$u" 2>&1)
	[ -z "$out" ] && pass "systemd-analyze verify $u" || fail "systemd-analyze verify $u: $out"
done

# --- unconfigured: refuses to start, says why -----------------------------------------------------------------
out=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/sbin/sessiond --check-config 2>&1)
rc=$?
[ "$rc" -ne 0 ] && grep -q 'jwt_issuer and jwt_audience must be set' <<<"$out" &&
	pass "the shipped conffile refuses to start until jwt_issuer/jwt_audience are set (exit $rc)" || fail "unconfigured: rc=$rc $out"
grep -q 'REFUSES TO START until you set jwt_issuer and jwt_audience' /etc/sessiond/sessiond.conf &&
	pass "the conffile says so at the top" || fail "conffile header"

# --- configure as an operator would, start as sessiond.service does -------------------------------------
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
u_user=$(sed -n 's/^User=//p' "$unit"); u_group=$(sed -n 's/^Group=//p' "$unit"); u_umask=$(sed -n 's/^UMask=//p' "$unit")
u_pre=$(sed -n 's/^ExecStartPre=//p' "$unit"); u_start=$(sed -n 's/^ExecStart=//p' "$unit")
u_rtdir=$(sed -n 's/^RuntimeDirectory=//p' "$unit"); u_rtmode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit")
[ "$u_user:$u_group" = sessiond:sessiond ] && [ "${u_start%% *}" = /usr/sbin/sessiond ] &&
	pass "the unit runs /usr/sbin/sessiond as sessiond:sessiond" || fail "unit: $u_user:$u_group $u_start"
as_unit() { setpriv --reuid="$u_user" --regid="$u_group" --init-groups sh -c "umask $u_umask; exec \"\$@\"" sh "$@"; }
install -d -o "$u_user" -g "$u_group" -m "$u_rtmode" "/run/$u_rtdir"   # RuntimeDirectory=
# shellcheck disable=SC2086
out=$(as_unit $u_pre 2>&1) && pass "ExecStartPre (--check-config) passes as sessiond, reading the 0640 conffile" || fail "ExecStartPre: $out"
out=$(/usr/sbin/sessiond --migrate --config /etc/sessiond/sessiond.conf 2>&1) && grep -q '(0 applied)' <<<"$out" &&
	pass "the installed sessiond finds its migrations in /usr/share/sessiond/sql (all applied)" || fail "--migrate: $out"
# Not through the function: $! must be sessiond itself (setpriv and sh exec it).
# shellcheck disable=SC2086
setpriv --reuid="$u_user" --regid="$u_group" --init-groups sh -c "umask $u_umask; exec \"\$@\"" sh $u_start \
	</dev/null >>"$VAR/log/sessiond-pkg.log" 2>&1 9>&- &
SD_PID=$!
for _ in $(seq 1 100); do [ -S /run/sessiond/sessiond.sock ] && break; sleep 0.1; done
[ "$(stat -c '%U:%G %a' /run/sessiond/sessiond.sock 2>/dev/null)" = "sessiond:sessiond 660" ] &&
	pass "listening on /run/sessiond/sessiond.sock (sessiond:sessiond 0660)" || fail "socket: $(stat -c '%U:%G %a' /run/sessiond/sessiond.sock 2>&1); $(tail -3 "$VAR/log/sessiond-pkg.log")"
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
nginx -p "$NGX" -c "$NGX/nginx.conf" -s stop
kill -TERM "$SD_PID"
for _ in $(seq 1 100); do kill -0 "$SD_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SD_PID" 2>/dev/null && fail "sessiond did not stop on SIGTERM" || pass "sessiond stops on SIGTERM (KillSignal)"
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
