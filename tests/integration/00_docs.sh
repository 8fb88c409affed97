#!/usr/bin/env bash
# The documents hold to the code and to themselves: every route of the router
# is in docs/api.md and docs/openapi.yaml, every metric family in
# docs/observability.md, every configuration key in docs/configuration.md
# (generated: 01_foundation compares it line by line); every relative link
# resolves; nothing points outside the repository; README.md stays a front page.
. "$(dirname "$0")/../lib.sh"
cd "$TOP" || exit 1

# Routes: the table in app/router.c, as "METHOD /path" under /api/sessions.
routes=$(sed -n 's|^[[:space:]]*{ "\([A-Z]*\)", "/api/sessions\(/[^"]*\)".*|\1 \2|p' app/router.c)
[ "$(wc -l <<<"$routes")" -ge 12 ] && pass "read $(wc -l <<<"$routes") routes from the router" || fail "routes read: $routes"
while read -r m p; do
	doc=${p//\{uuid\}/\{id\}}
	doc=${doc//\{\}/\{user_id\}}
	grep -Fq "\`$m $doc\`" docs/api.md && pass "docs/api.md: $m $doc" || fail "docs/api.md lacks \`$m $doc\`"
	api=${p//\{uuid\}/\{session_id\}}
	api=${api//\{\}/\{user_id\}}
	awk -v p="  /api/sessions$api:" -v m="    $(tr 'A-Z' 'a-z' <<<"$m"):" '
		$0 == p { inside = 1; next }
		inside && /^  [^ ]/ { inside = 0 }
		inside && $0 == m { found = 1 }
		END { exit !found }' docs/openapi.yaml &&
		pass "openapi.yaml: $m /api/sessions$api" || fail "openapi.yaml lacks $m /api/sessions$api"
done <<<"$routes"

# Metric families: every name the exposition writes.
for f in $(grep -o '"sessiond_[a-z_]*"' app/metrics.c | tr -d '"' | sed -E 's/_(bucket|count|sum)$//' | sort -u); do
	grep -q "\`$f\`" docs/observability.md && pass "docs/observability.md: $f" || fail "docs/observability.md lacks $f"
done

# Configuration: the generated reference is in docs/configuration.md only.
if [ -x "$BUILD/sessiond" ]; then
	n=$("$BUILD/sessiond" --config-reference | grep -c '^| `')
	got=$(grep -Fxc -f <("$BUILD/sessiond" --config-reference | grep '^| `') docs/configuration.md)
	[ "$got" = "$n" ] && pass "docs/configuration.md has all $n keys" || fail "docs/configuration.md has $got of $n keys (run: build/sessiond --config-reference)"
else
	fail "$BUILD/sessiond not built"
fi
copies=$(grep -l '^| `database_url` |' README.md docs/*.md | grep -v '^docs/configuration.md$')
[ -z "$copies" ] && pass "the key table is in one place" || fail "key table copied into: $copies"

# Links: every relative Markdown link resolves (anchors are not checked).
bad=""
for f in README.md docs/*.md; do
	d=$(dirname "$f")
	for l in $(grep -o '](\([^)#]*\)[^)]*)' "$f" | sed 's/^](\([^)#]*\).*/\1/' | grep -v '^[a-z]*:' | grep -v '^$'); do
		[ -e "$d/$l" ] || bad="$bad $f:$l"
	done
done
[ -z "$bad" ] && pass "every relative link resolves" || fail "broken links:$bad"

# Self-contained: nothing outside the repository.
out=$(grep -n '\.\./shared\|SPEC\.md' README.md docs/*.md man/* 2>/dev/null)
[ -z "$out" ] && pass "no reference outside the repository" || fail "references outside: $out"
lines=$(wc -l <README.md)
[ "$lines" -le 250 ] && pass "README.md is a front page ($lines lines)" || fail "README.md has $lines lines (at most 250)"

# SQL objects: every function or trigger the docs name exists in sql/schema.sql (a
# migration may drop one: the docs must follow). Metric names share the prefix;
# the NOTIFY channel sessiond_cache is a string in the schema, so it is found too.
metric_names=$(grep -o '"sessiond_[a-z_]*"' app/metrics.c | tr -d '"' | sed -E 's/_(bucket|count|sum)$//' | sort -u)
named=$( {
	grep -oh '`sessiond_[a-z_]*\(([^`]*)\)\?`' README.md docs/*.md | sed -E 's/`//g; s/\(.*//'
	grep -ohiE 'triggers? `[a-z_]+`|`[a-z_]+`,? (AFTER |BEFORE )?triggers?' README.md docs/*.md | grep -o '`[a-z_]*`' | tr -d '`'
} | sort -u | grep -vxF -f <(echo "$metric_names"))
missing=""
for n in $named; do
	grep -qw "$n" sql/schema.sql || missing="$missing $n"
done
[ "$(wc -w <<<"$named")" -ge 8 ] && pass "read $(wc -w <<<"$named") SQL function and trigger names from the docs" ||
	fail "SQL names read from the docs: $named"
[ -z "$missing" ] && pass "every SQL function and trigger the docs name is in sql/schema.sql" ||
	fail "named in docs/*.md but not in sql/schema.sql:$missing"
# The commands the Makefile runs: every script under tests/ or scripts/ that a
# recipe starts directly keeps its run bit (a 100644 one stops `make bench`).
notexec=""
for s in $(grep -oE '(^|[[:space:];)])(tests|scripts)/[A-Za-z0-9_./-]+' Makefile | grep -oE '(tests|scripts)/.*' | sort -u); do
	[ -f "$s" ] || continue
	[ -x "$s" ] || notexec="$notexec $s"
	[ "$(git ls-files -s -- "$s" 2>/dev/null | cut -c1-6)" = 100644 ] && notexec="$notexec $s(git)"
done
[ -z "$notexec" ] && pass "every script the Makefile runs is executable" || fail "no run bit:$notexec"
