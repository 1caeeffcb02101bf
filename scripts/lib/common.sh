# common.sh: settings, messages and process helpers shared by scripts/herald's commands.
# Sourced by scripts/herald (which sets HERALD_ROOT); defines no commands itself.

# shellcheck disable=SC2034 # used by the other parts of scripts/lib
HR_CHANNELS=(email sms telegram discord whatsapp slack webhook in_app)
# shellcheck disable=SC2034
HR_PG_BIN=${HERALD_PG_BIN:-/usr/lib/postgresql/15/bin}
# shellcheck disable=SC2034
HR_PY=/usr/bin/python3

# ---- messages ---------------------------------------------------------------------
if [[ -t 2 ]]; then
    _c_b=$'\e[1m' _c_r=$'\e[31m' _c_y=$'\e[33m' _c_0=$'\e[0m'
else
    _c_b='' _c_r='' _c_y='' _c_0=''
fi
say() { printf '%sherald:%s %s\n' "$_c_b" "$_c_0" "$*" >&2; }
warn() { printf '%sherald: warning:%s %s\n' "$_c_y" "$_c_0" "$*" >&2; }
die() {
    printf '%sherald: error:%s %s\n' "$_c_r" "$_c_0" "$*" >&2
    exit 1
}

# Seconds since the epoch with milliseconds, for timings.
now_s() { printf '%s' "${EPOCHREALTIME:0:-3}"; }
elapsed() { # START -> "1.23 s"
    awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.2f s", b - a }'
}

abs_path() { # PATH -> absolute path (without resolving symlinks)
    case $1 in
    /*) printf '%s' "$1" ;;
    *) printf '%s/%s' "$PWD" "$1" ;;
    esac
}

short_hash() { printf '%s' "$1" | sha1sum | cut -c1-12; }

# ---- settings ---------------------------------------------------------------------
# Precedence: the environment, then what the last `up` recorded in RUN/stack.env (so
# `stop redis` from a test uses the stack's own ports), then the defaults.
hr_settings() {
    RUN_DIR=$(abs_path "${HERALD_RUN_DIR:-$HERALD_ROOT/run}")
    RUN_DIR=${RUN_DIR%/}
    BUILD_DIR=$(abs_path "${HERALD_BUILD_DIR:-$HERALD_ROOT/build}")
    local st_smtp_set=''
    ST_HTTP_PORT='' ST_PG_PORT='' ST_REDIS_PORT='' ST_SMTP_URL='' ST_API_WORKERS=''
    ST_BIN_DIR='' ST_API_SOCKET='' ST_HTTPS_PORT='' ST_RT_PORT='' ST_REDIS_PASSWORD=''
    if [[ -f $RUN_DIR/stack.env ]]; then
        # Written by hr_render_stack_env with printf %q: plain assignments.
        # shellcheck disable=SC1091
        . "$RUN_DIR/stack.env"
        st_smtp_set=1
    fi
    local st_http=$ST_HTTP_PORT st_pg=$ST_PG_PORT st_redis=$ST_REDIS_PORT st_smtp=$ST_SMTP_URL
    local st_workers=$ST_API_WORKERS st_bin=$ST_BIN_DIR st_sock=$ST_API_SOCKET
    local st_https=$ST_HTTPS_PORT
    HTTP_PORT=${HERALD_HTTP_PORT:-${st_http:-8080}}
    RT_PORT=${HERALD_RT_PORT:-${ST_RT_PORT:-8090}}
    HTTPS_PORT=${HERALD_HTTPS_PORT:-${st_https:-8443}}
    PG_PORT=${HERALD_PG_PORT:-${st_pg:-15432}}
    REDIS_PORT=${HERALD_REDIS_PORT:-${st_redis:-16379}}
    # Redis AUTH (requirepass): none unless asked for; `test` always asks.
    REDIS_PASSWORD=${HERALD_REDIS_PASSWORD:-${ST_REDIS_PASSWORD:-}}
    API_WORKERS=${HERALD_API_WORKERS:-${st_workers:-16}}
    if [[ -n ${HERALD_EMAIL_SMTP_URL+x} ]]; then
        SMTP_URL=$HERALD_EMAIL_SMTP_URL
    elif [[ -n $st_smtp_set ]]; then
        SMTP_URL=$st_smtp
    else
        SMTP_URL=''
    fi
    BIN_DIR=$(abs_path "${HERALD_BIN_DIR:-${st_bin:-$BUILD_DIR}}")
    MAX_BODY=${HERALD_MAX_BODY:-1m}
    CONF=$RUN_DIR/herald.conf
    PG_SOCK=$RUN_DIR/pg/sock
    PG_DSN="host=$PG_SOCK port=$PG_PORT dbname=herald user=postgres"
    API_SOCKET=${st_sock:-$RUN_DIR/api.sock}
    # HTTPS with a certificate made by `up` (RUN/tls, its CA in RUN/tls/ca.pem), or a real
    # one: HERALD_TLS_CERT (chain) and HERALD_TLS_KEY; HERALD_TLS_CA names the CA file
    # clients of this stack should trust (empty: the system's).
    if [[ -n ${HERALD_TLS_CERT:-} || -n ${HERALD_TLS_KEY:-} ]]; then
        [[ -n ${HERALD_TLS_CERT:-} && -n ${HERALD_TLS_KEY:-} ]] ||
            die "HERALD_TLS_CERT and HERALD_TLS_KEY go together"
        TLS_CERT=$(abs_path "$HERALD_TLS_CERT")
        TLS_KEY=$(abs_path "$HERALD_TLS_KEY")
        CA_FILE=${HERALD_TLS_CA:+$(abs_path "$HERALD_TLS_CA")}
    else
        TLS_CERT=$RUN_DIR/tls/cert.pem
        TLS_KEY=$RUN_DIR/tls/key.pem
        CA_FILE=$RUN_DIR/tls/ca.pem
    fi
    NGINX_KEY_RATE=${HERALD_NGINX_KEY_RATE:-20000r/s}
    NGINX_IP_RATE=${HERALD_NGINX_IP_RATE:-50000r/s}
    BASE_URL="https://127.0.0.1:$HTTPS_PORT"
    CURL_TLS=(--cacert "$CA_FILE")
    [[ -n $CA_FILE ]] || CURL_TLS=()
    local p
    for p in "$HTTP_PORT" "$HTTPS_PORT" "$PG_PORT" "$REDIS_PORT" "$RT_PORT"; do
        [[ $p =~ ^[0-9]+$ ]] && ((p > 0 && p < 65536)) || die "bad port '$p'"
    done
    [[ $API_WORKERS =~ ^[0-9]+$ ]] || die "HERALD_API_WORKERS must be a number, not '$API_WORKERS'"
}

# Supervised processes, in start order (postgres is managed by pg_ctl, not listed).
hr_sup_names() {
    local c
    printf '%s\n' redis herald-api herald-router
    for c in "${HR_CHANNELS[@]}"; do
        printf 'herald-worker-%s\n' "$c"
    done
    printf '%s\n' herald-sweeper herald-realtime nginx
}

# NAME as typed -> canonical process name (api -> herald-api, pg -> postgres, ...).
hr_canon_name() {
    local n=$1
    case $n in
    pg | postgresql | postgres) n=postgres ;;
    redis | redis-server) n=redis ;;
    nginx) ;;
    api | router | sweeper | realtime | worker-*) n=herald-$n ;;
    rt) n=herald-realtime ;;
    esac
    # Not `hr_sup_names | grep -q`: grep leaves at the first match, the writer
    # may then die of SIGPIPE, and pipefail turns a found name into "unknown".
    local names
    names=$(hr_sup_names)
    if [[ $n == postgres ]] || grep -qxF -- "$n" <<<"$names"; then
        printf '%s' "$n"
    else
        die "unknown process '$1' (one of: postgres $(tr '\n' ' ' <<<"$names"))"
    fi
}

# ---- processes --------------------------------------------------------------------
# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
    local pid=$1 st
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    st=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $st != Z ]]
}

# The pid of NAME's supervisor when it is running, else nothing (and status 1).
sup_pid() {
    local name=$1 pid cmd
    [[ -f $RUN_DIR/pids/$name.pid ]] || return 1
    pid=$(<"$RUN_DIR/pids/$name.pid") || return 1
    pid_alive "$pid" || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *supervise\ "$name"\ * ]] || return 1
    printf '%s' "$pid"
}

child_pid() {
    local name=$1 pid
    [[ -f $RUN_DIR/pids/$name.child ]] || return 1
    pid=$(<"$RUN_DIR/pids/$name.child") || return 1
    pid_alive "$pid" || return 1
    printf '%s' "$pid"
}

# The environment Herald's programs get: a fixed, small one, so that stray HERALD_*
# variables of the caller (which the programs read as setting overrides) cannot make
# them disagree with RUN/herald.conf. HERALD_PASS_ENV names extra variables to keep.
hr_clean_env() {
    CLEAN_ENV=(env -i "PATH=${PATH:-/usr/local/bin:/usr/bin:/bin}" "HOME=${HOME:-/root}"
        "LANG=C.UTF-8" "HERALD_CONFIG=$CONF" "HERALD_RUN_DIR=$RUN_DIR")
    local v
    for v in TZ ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS HERALD_LOG_LEVEL HERALD_STOP_TIMEOUT \
        ${HERALD_PASS_ENV:-}; do
        if [[ -n ${!v+x} ]]; then
            CLEAN_ENV+=("$v=${!v}")
        fi
    done
}

port_in_use() { [[ -n $(ss -ltnH "( sport = :$1 )" 2>/dev/null) ]]; }

wait_port() { # PORT TIMEOUT_S
    local deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        port_in_use "$1" && return 0
        sleep 0.1
    done
    return 1
}

# Tail of one log, with a header; used when something fails to start.
show_log() { # FILE [LINES]
    local f=$1 n=${2:-50}
    [[ -e $f ]] || return 0
    printf '%s\n' "----- ${f#"$RUN_DIR"/} (last $n lines) -----" >&2
    tail -n "$n" "$f" >&2 || true
}
