#!/usr/bin/env bash
# The module graph has no circles: neither in the #include lines (app/NAME.c
# and include/NAME.h form module NAME) nor in the calls the linker resolves
# (each object's undefined symbols, attributed to the module that defines
# them). tsort(1) finds the circles; the layers it prints are the order a
# reader can follow from main() down to the SQL.
. "$(dirname "$0")/../lib.sh"

cd "$TOP" || exit 1
mods=$(ls app/*.c include/*.h | sed 's|.*/||; s|\.[ch]$||' | sort -u)
is_mod() { grep -qx "$1" <<<"$mods"; }

# Edges from #include "x.h" lines.
inc_edges=$(for f in app/*.c include/*.h; do
	m=$(basename "$f" | sed 's|\.[ch]$||')
	sed -n 's|^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)\.h".*|\1|p' "$f" | while read -r t; do
		t=$(basename "$t")
		[ "$t" != "$m" ] && is_mod "$t" && echo "$m $t"
	done
done | sort -u)

# Edges from symbols: who defines what, who uses what.
objs=$(ls "$BUILD"/app/*.o 2>/dev/null)
if [ -z "$objs" ]; then
	fail "objects in $BUILD/app (build first)"
	exit 1
fi
defs=$(for o in $objs; do m=$(basename "$o" .o); nm --defined-only -g "$o" | awk -v m="$m" 'NF==3 {print $3, m}'; done | sort -u)
call_edges=$(for o in $objs; do
	m=$(basename "$o" .o)
	nm -u "$o" | awk '{print $2}' | sort -u | join - <(echo "$defs") | awk -v m="$m" '$2 != m {print m, $2}'
done | sort -u)

check_acyclic() { # what edges
	local out
	if out=$(printf '%s\n' "$2" | tsort 2>&1 >/dev/null) && [ -z "$out" ]; then
		pass "$1: no circles ($(printf '%s\n' "$2" | grep -c .) edges)"
	else
		fail "$1: circle: $(printf '%s' "$out" | grep -v 'input contains a loop' | sed 's/^tsort: //' | tr '\n' ' ')"
	fi
}
check_acyclic "#include graph" "$inc_edges"
check_acyclic "call graph (nm)" "$call_edges"

# A few layering rules the graph alone does not state.
no_edge() { # edges from to why
	if printf '%s\n' "$1" | grep -qx "$2 $3"; then fail "$2 must not use $3 ($4)"; else pass "$2 does not use $3 ($4)"; fi
}
for e in "$inc_edges" "$call_edges"; do
	no_edge "$e" metrics store "metrics is a leaf: gauges are sampled from above"
	no_edge "$e" metrics router "metrics is told its route names"
	no_edge "$e" router auth "the client address is resolved with the request"
	no_edge "$e" router guard "the request layer applies the guard"
	no_edge "$e" sessions session_view "storage renders no HTTP: the view renders the API's JSON"
	no_edge "$e" sessions http "storage renders no HTTP"
	no_edge "$e" store http "storage renders no HTTP"
	no_edge "$e" jwtv jwks_fetch "verification does not use fetching"
	no_edge "$e" jwtv jwks_fetcher "verification does not use fetching"
	no_edge "$e" jwks_fetch jwtv "a fetch is checked by the key-set parser, not the verifier"
	no_edge "$e" jwk_set jwtv "the key set knows no verifier"
	no_edge "$e" routes auth "the handlers' shared helpers sit below the session lookup"
	no_edge "$e" credentials auth "credentials come before the lookup"
done
