# Sourced by vm/run.sh and packaging/release-install.sh: where this
# machine's apt finds Debian. The caller defines die.

# archive_uris prints the URIs of the machine's own Debian sources: the main
# archive, then the security archive. No registry host is written here.
archive_uris() {
	local main="" sec=""
	local f uri suites
	# deb822 .sources files: a stanza has URIs: and Suites:.
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		while IFS=$'\t' read -r uri suites; do
			case " $suites " in
			*-security*) [ -n "$sec" ] || sec=$uri ;;
			*) [ -n "$main" ] || main=$uri ;;
			esac
		done < <(awk 'BEGIN{RS="";FS="\n"} {u="";s=""; for(i=1;i<=NF;i++){ if($i ~ /^URIs:/){sub(/^URIs:[ \t]*/,"",$i); split($i,a," "); u=a[1]} if($i ~ /^Suites:/){sub(/^Suites:[ \t]*/,"",$i); s=$i} } if(u!="" && s!="" && u ~ /debian/) print u "\t" s}' "$f")
	done
	# One-line sources.list entries: deb [opts] URI SUITE COMPONENTS.
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -e "$f" ] || continue
		while read -r uri suites; do
			case "$suites" in
			*-security*) [ -n "$sec" ] || sec=$uri ;;
			*) [ -n "$main" ] || main=$uri ;;
			esac
		done < <(sed -E 's/\[[^]]*\]//' "$f" | awk '$1=="deb" && $2 ~ /debian/ {print $2, $3}')
	done
	[ -n "$main" ] || die "no Debian source found in /etc/apt"
	echo "$main"
	echo "${sec:-}"
}
