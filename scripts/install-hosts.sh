#!/usr/bin/env bash
# Make the real rsyslog and syslog-ng available to tests/hosts/, idempotently.
#
#   rsyslog    installed from Debian's package when missing (as root, with apt-get, where no
#              init system would start it); the tests run it as a private instance, never
#              the system daemon. Otherwise the package is extracted into .hosts/rsyslog.
#   syslog-ng  conflicts with rsyslog as a Debian package (both provide system-log-daemon),
#              so it is never installed: its package and the libraries the machine lacks are
#              downloaded and extracted into .hosts/syslog-ng (gitignored).
#
# This never fails the test run: when something cannot be had (no apt, no network), it says
# why on stderr and exits 0, and the host tests skip with that reason.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${OKTA_RISK_HOSTS_DIR:-$root/.hosts}"
mkdir -p "$cache"

say() { echo "install-hosts: $*" >&2; }

have_apt() { command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; }

updated=""
apt_update() {
    # Once per run, and only as root: a stale or empty package list makes every download fail.
    if [ -z "$updated" ] && [ "$(id -u)" = 0 ]; then
        apt-get update -qq >/dev/null 2>&1 || say "apt-get update failed; trying the lists at hand"
        updated=1
    fi
}

missing_depends() {
    # The package itself plus each dependency (first alternative) that is not installed here.
    echo "$1"
    apt-cache depends "$1" 2>/dev/null \
        | awk '/^  Depends: [^<]/ { print $2 }' \
        | while read -r dep; do
            dpkg-query -W -f='${Status}\n' "$dep" 2>/dev/null | grep -q "install ok installed" \
                || echo "$dep"
        done
}

extract() {
    # extract PACKAGE DIR: download the package and what it lacks, unpack all into DIR.
    local package="$1" dir="$2" work
    work="$(mktemp -d)"
    # shellcheck disable=SC2046 - one word per package name
    if (cd "$work" && apt-get download -qq $(missing_depends "$package") >/dev/null 2>&1); then
        mkdir -p "$dir"
        for deb in "$work"/*.deb; do dpkg -x "$deb" "$dir"; done
        rm -rf "$work"
        return 0
    fi
    rm -rf "$work"
    return 1
}

# -- rsyslog -------------------------------------------------------------------------------
if command -v rsyslogd >/dev/null 2>&1 || [ -x /usr/sbin/rsyslogd ] \
    || [ -x "$cache/rsyslog/usr/sbin/rsyslogd" ]; then
    :
elif ! have_apt; then
    say "rsyslog is missing and there is no apt-get here; the rsyslog tests will skip"
elif [ "$(id -u)" = 0 ] && [ ! -d /run/systemd/system ]; then
    apt_update
    # Without a running init system (a container, a CI runner) installing the package starts
    # no daemon. Under systemd it would start the machine's rsyslog, so there (and without
    # root) the package is only extracted; the tests run their own private instance anyway.
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rsyslog \
        >/dev/null 2>&1; then
        say "apt-get install rsyslog failed; trying to extract it into $cache/rsyslog"
        extract rsyslog "$cache/rsyslog" || say "rsyslog could not be had; its tests will skip"
    fi
else
    extract rsyslog "$cache/rsyslog" || say "rsyslog could not be had; its tests will skip"
fi

# -- syslog-ng ----------------------------------------------------------------------------
if command -v syslog-ng >/dev/null 2>&1 || [ -x "$cache/syslog-ng/usr/sbin/syslog-ng" ]; then
    :
elif ! have_apt; then
    say "syslog-ng is missing and there is no apt-get here; the syslog-ng tests will skip"
else
    apt_update
    extract syslog-ng-core "$cache/syslog-ng" \
        || say "syslog-ng could not be downloaded; its tests will skip"
fi
exit 0
