# Strict check of a Prometheus text exposition (format 0.0.4) as sessiond
# writes it. Prints one "error: ..." line per problem and exits 1 when there
# is any; prints "ok families=N samples=M" otherwise. POSIX awk (mawk).
#
#   awk -f tests/tools/check-exposition.awk metrics.txt
#
# Checked: every line is a HELP, a TYPE or a sample; each family has exactly
# one HELP then one TYPE, before its samples, and its samples are contiguous;
# sample names belong to the current family (histograms: _bucket, _sum,
# _count); label names and quoted values are well formed; values are numbers,
# +Inf, -Inf or NaN; no series twice; counters end in _total; histogram
# buckets have increasing le, cumulative counts, end with le="+Inf", and that
# bucket equals _count; _sum is present.

function err(msg) { print "error: line " NR ": " msg; bad = 1 }

function base_labels(labels,    s) {
	# the label set without le (for grouping histogram buckets)
	s = labels
	gsub(/(,)?le="[^"]*"/, "", s)
	sub(/^\{,/, "{", s)
	if (s == "{}") s = ""
	return s
}

function flush_hist(    k) {
	for (k in hcount) {
		if (!(k in hinf)) err("histogram " fam k ": no le=\"+Inf\" bucket")
		else if (hinf[k] != hcount[k]) err("histogram " fam k ": +Inf bucket " hinf[k] " != _count " hcount[k])
		if (!(k in hsum)) err("histogram " fam k ": no _sum")
	}
	for (k in hinf) if (!(k in hcount)) err("histogram " fam k ": no _count")
	for (k in hcount) delete hcount[k]
	for (k in hinf) delete hinf[k]
	for (k in hsum) delete hsum[k]
	for (k in hlast) delete hlast[k]
	for (k in hle) delete hle[k]
}

BEGIN {
	name_re = "^[a-zA-Z_:][a-zA-Z0-9_:]*$"
	pair_re = "[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
	labels_re = "^\\{(" pair_re "(," pair_re ")*)?\\}$"
	value_re = "^([-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]Inf|\\+?Inf|NaN)$"
	fam = ""; nfam = 0; nsamples = 0
}

/^# HELP / {
	n = $3
	if (n !~ name_re) { err("bad HELP name " n); next }
	if (n in seen_fam) { err("family " n " appears again (HELP)"); next }
	if (fam != "" && ftype == "histogram") flush_hist()
	seen_fam[n] = 1; fam = n; ftype = ""; nfam++
	if (NF < 4) err("empty HELP for " n)
	next
}
/^# TYPE / {
	n = $3
	if (n != fam) { err("TYPE " n " without its HELP first"); next }
	if (ftype != "") { err("second TYPE for " n); next }
	if (NF != 4 || $4 !~ /^(counter|gauge|histogram|summary|untyped)$/) { err("bad TYPE line"); next }
	ftype = $4
	if (ftype == "counter" && fam !~ /_total$/) err("counter " fam " does not end in _total")
	next
}
/^#/ { next }   # other comments are allowed by the format
/^$/ { err("empty line"); next }
{
	if (NF != 2) { err("sample is not 'name{labels} value': " $0); next }
	series = $1; value = $2
	i = index(series, "{")
	if (i) { mname = substr(series, 1, i - 1); labels = substr(series, i) } else { mname = series; labels = "" }
	if (mname !~ name_re) { err("bad metric name " mname); next }
	if (labels != "" && labels !~ labels_re) { err("bad labels " labels); next }
	if (value !~ value_re) { err("bad value " value " for " series); next }
	if (series in seen_series) { err("duplicate series " series); next }
	seen_series[series] = 1
	nsamples++
	if (fam == "" || ftype == "") { err("sample " mname " before its HELP and TYPE"); next }
	if (ftype == "histogram") {
		suffix = substr(mname, length(fam) + 1)
		if (substr(mname, 1, length(fam)) != fam || suffix !~ /^_(bucket|sum|count)$/) {
			err("sample " mname " outside its family " fam); next
		}
		k = base_labels(labels)
		if (suffix == "_bucket") {
			if (labels !~ /le="[^"]*"/) { err("bucket without le: " series); next }
			le = labels; sub(/.*le="/, "", le); sub(/".*/, "", le)
			if (k in hinf) { err("bucket after le=\"+Inf\": " series); next }
			lev = (le == "+Inf") ? 1e308 : le + 0
			if ((k in hle) && lev <= hle[k]) err("le not increasing: " series)
			if ((k in hlast) && value + 0 < hlast[k]) err("buckets not cumulative: " series)
			hle[k] = lev; hlast[k] = value + 0
			if (le == "+Inf") hinf[k] = value + 0
		} else if (suffix == "_count") {
			hcount[k] = value + 0
		} else {
			hsum[k] = value + 0
		}
	} else if (mname != fam) {
		err("sample " mname " outside its family " fam)
	}
}
END {
	if (fam != "" && ftype == "histogram") flush_hist()
	if (nfam == 0) err("no metric family")
	if (bad) exit 1
	print "ok families=" nfam " samples=" nsamples
}
