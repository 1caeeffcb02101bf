# deps.sh: `scripts/herald deps` — install the Debian 12 packages Herald needs, only
# those missing, without letting their services start.

HR_PACKAGES=(
    build-essential pkg-config autoconf automake libtool autoconf-archive
    libfcgi-dev nginx-light redis-server libhiredis-dev postgresql-15 libpq-dev
    libcurl4-openssl-dev libsodium-dev libwebsockets-dev libcmocka-dev libjansson-dev
    libjwt-dev libinih-dev libssl-dev
    python3-pytest python3-aiosmtpd python3-websockets python3-psycopg2 python3-redis
    curl openssl ca-certificates wrk
    chromium
)

# Only `scripts/herald bench drain` needs these: postfix for its smtp-sink and
# smtp-source load tools (its mail daemon stays stopped and disabled). Installed on
# demand by the bench, never by `deps`, `up` or `test`.
HR_BENCH_PACKAGES=(postfix)

MISSING=() # hr_missing_packages: the packages of HR_PACKAGES not installed

hr_bench_deps() {
    local missing=()
    hr_missing_of missing "${HR_BENCH_PACKAGES[@]}"
    ((${#missing[@]})) || return 0
    say "deps: installing ${missing[*]} for the benchmarks"
    # No questions: postfix is only a box of tools here.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    hr_apt_install "${missing[@]}"
    if [[ -x /etc/init.d/postfix ]]; then
        /etc/init.d/postfix status >/dev/null 2>&1 && /etc/init.d/postfix stop >/dev/null 2>&1
        update-rc.d postfix disable >/dev/null 2>&1 || true
    fi
    return 0
}

# hr_missing_of VAR PKG...: the packages of the list not installed, into array VAR.
hr_missing_of() {
    local -n _out=$1
    shift
    local p st
    _out=()
    for p in "$@"; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $st == "install ok installed" ]] || _out+=("$p")
    done
}

# hr_apt_install PKG...: apt-get install (updating the lists once if the first try
# fails), as root, with no questions and no service started meanwhile.
hr_apt_install() {
    ((EUID == 0)) || die "deps: run as root to install $* (or install them by hand)"
    local prev_trap apt_opts=(-q -o Dpkg::Use-Pty=0 -o APT::Color=0) rc=0
    prev_trap=$(trap -p EXIT)
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# created by herald deps during a package install\nexit 101\n' \
            >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        _hr_policy_created=1
        trap '_hr_policy_remove' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get "${apt_opts[@]}" install -y --no-install-recommends "$@" </dev/null ||
        { apt-get "${apt_opts[@]}" update &&
            apt-get "${apt_opts[@]}" install -y --no-install-recommends "$@" </dev/null; } ||
        rc=$?
    _hr_policy_remove
    if [[ -n $prev_trap ]]; then
        eval "$prev_trap"
    else
        trap - EXIT
    fi
    ((rc == 0)) || die "deps: apt-get install $* failed"
    _hr_stop_system_services
}

hr_missing_packages() {
    hr_missing_of MISSING "${HR_PACKAGES[@]}"
}

# The packages' init scripts must not start a system Redis, nginx or PostgreSQL on the
# default ports: a policy-rc.d that refuses every start is in place during the install.
_hr_policy_created=0
_hr_policy_remove() {
    if ((_hr_policy_created)); then
        rm -f /usr/sbin/policy-rc.d
        _hr_policy_created=0
    fi
}

# Stop a system service an install may have started anyway (e.g. where a policy-rc.d
# was already present and allowed starts).
_hr_stop_system_services() {
    local svc
    for svc in redis-server nginx postgresql; do
        if [[ -x /etc/init.d/$svc ]] && /etc/init.d/"$svc" status >/dev/null 2>&1; then
            warn "stopping the system $svc service the package install started"
            /etc/init.d/"$svc" stop >/dev/null 2>&1 || warn "could not stop $svc"
        fi
    done
}

# The browser test's playwright-core (npm; it drives Debian's /usr/bin/chromium, no
# browser download) in tests/e2e/node_modules. Node.js and npm come from Debian when
# the machine has none.
hr_npm_deps() {
    local dir=$HERALD_ROOT/tests/e2e
    [[ -f $dir/package.json ]] || return 0
    [[ -d $dir/node_modules/playwright-core ]] && return 0
    if ! command -v npm >/dev/null; then
        ((EUID == 0)) || die "deps: npm is missing; run as root to install nodejs and npm"
        DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends nodejs npm \
            </dev/null || die "deps: apt-get install nodejs npm failed"
    fi
    say "deps: npm install in tests/e2e (playwright-core)"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error) ||
        die "deps: npm install in $dir failed"
}

cmd_deps() {
    local t0
    t0=$(now_s)
    command -v dpkg-query >/dev/null || die "deps: dpkg-query not found (Debian 12 is required)"
    hr_missing_packages
    if ((${#MISSING[@]} == 0)); then
        hr_npm_deps
        say "deps: all ${#HR_PACKAGES[@]} packages present ($(elapsed "$t0"))"
        return 0
    fi
    say "deps: missing: ${MISSING[*]}"
    hr_apt_install "${MISSING[@]}"
    hr_missing_packages
    ((${#MISSING[@]} == 0)) || die "deps: still missing after install: ${MISSING[*]}"
    hr_npm_deps
    say "deps: installed in $(elapsed "$t0")"
}
