#!/usr/bin/env bash
# Builds the cart web app with javac + jar (no Maven: its repositories are
# out of reach), as an exploded ROOT/ directory and a ROOT.war beside it.
#
#   demo/cartapp/build.sh [OUTDIR]     default OUTDIR: <repo>/build/cartapp
#
# Needs javac (default-jdk-headless) and the Servlet API jar of Tomcat 10
# (libtomcat10-java, pulled in by tomcat10-user).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/build/cartapp}

find_servlet_api() {
    local jar
    for jar in /usr/share/java/tomcat10-servlet-api.jar /usr/share/tomcat10/lib/servlet-api.jar; do
        if [[ -r $jar ]]; then echo "$jar"; return 0; fi
    done
    echo "build.sh: no Tomcat 10 servlet API jar; apt-get install tomcat10-user" >&2
    return 1
}

main() {
    local api tmp
    api=$(find_servlet_api)
    command -v javac >/dev/null || { echo "build.sh: javac missing; apt-get install default-jdk-headless" >&2; exit 1; }

    # Build in a temporary directory and move it into place at the end, so a
    # concurrent build or a half-finished one never leaves a broken ROOT/.
    mkdir -p "$out"
    tmp=$(mktemp -d "$out/.build.XXXXXX")
    # shellcheck disable=SC2064 # expanded now: $tmp is local to main
    trap "rm -rf '$tmp'" EXIT

    mkdir -p "$tmp/ROOT/WEB-INF/classes"
    cp "$here/WEB-INF/web.xml" "$tmp/ROOT/WEB-INF/"
    # --release 17: Tomcat 10.1 needs Java 11+, Debian 12 has 17.
    javac --release 17 -Xlint:all -Werror -encoding UTF-8 -cp "$api" \
        -d "$tmp/ROOT/WEB-INF/classes" "$here"/src/cart/*.java
    jar --create --file "$tmp/ROOT.war" -C "$tmp/ROOT" .

    rm -rf "$out/ROOT" "$out/ROOT.war"
    mv "$tmp/ROOT" "$tmp/ROOT.war" "$out/"
    echo "built $out/ROOT (exploded) and $out/ROOT.war"
}

main "$@"
