# stack.sh: the local stack — PostgreSQL (pg_ctl), Redis, Herald's programs and nginx
# (each under scripts/supervise) in the run folder; `up`, `down`, `status`, `logs`,
# `start`, `stop`, `restart`. Layout: docs/STACK.md.

# ---- run folder -------------------------------------------------------------------
hr_run_dirs() {
    mkdir -p "$RUN_DIR" "$RUN_DIR/logs" "$RUN_DIR/pids" "$RUN_DIR/redis" \
        "$RUN_DIR/sink/email/Maildir/new" "$RUN_DIR/sink/email/Maildir/cur" \
        "$RUN_DIR/sink/email/Maildir/tmp" "$RUN_DIR/nginx/conf" "$RUN_DIR/nginx/tmp"
    # nginx's workers (user nobody) connect to RUN/api.sock and the postgres user keeps
    # its socket in RUN/pg: the run folder itself must be traversable by others.
    if (( ($(stat -c '%a' "$RUN_DIR") & 8#001) == 0 )); then
        chmod o+x "$RUN_DIR"
    fi
}

# can_reach USER PATH: USER can traverse every folder down to PATH.
can_reach() {
    if ((EUID != 0)); then
        [[ $1 == "$(id -un)" ]] && test -x "$2"
        return
    fi
    runuser -u "$1" -- test -x "$2" 2>/dev/null
}

# Where herald-api's socket goes: RUN/api.sock when nginx's workers can reach it (and
# the path fits in a sockaddr_un), else a folder under /tmp named after the run folder.
hr_pick_api_socket() {
    local sock=$RUN_DIR/api.sock alt
    alt=/tmp/herald-sock-$(short_hash "$RUN_DIR")
    if ((EUID == 0)) && ! can_reach nobody "$RUN_DIR"; then
        warn "$RUN_DIR is not reachable by user nobody (nginx workers): the API socket goes to $alt/api.sock"
        sock=$alt/api.sock
    elif ((${#sock} > 100)); then
        warn "$sock is too long for a unix socket: using $alt/api.sock"
        sock=$alt/api.sock
    fi
    if [[ $sock != "$RUN_DIR/api.sock" ]]; then
        mkdir -p "${sock%/*}"
        chmod 0755 "${sock%/*}"
    fi
    API_SOCKET=$sock
}

# Write FILE from stdin only when the content changed (keeps mtimes of unchanged files).
write_if_changed() { # FILE [MODE]
    local f=$1 tmp
    tmp=$(mktemp "$f.XXXXXX")
    cat >"$tmp"
    if [[ -f $f ]] && cmp -s "$tmp" "$f"; then
        rm -f "$tmp"
    else
        chmod "${2:-0644}" "$tmp"
        mv -f "$tmp" "$f"
    fi
}

hr_render_stack_env() {
    {
        printf '# settings of this stack, recorded by scripts/herald up\n'
        printf 'ST_HTTP_PORT=%q\nST_PG_PORT=%q\nST_REDIS_PORT=%q\n' "$HTTP_PORT" "$PG_PORT" "$REDIS_PORT"
        printf 'ST_SMTP_URL=%q\nST_API_WORKERS=%q\nST_BIN_DIR=%q\nST_API_SOCKET=%q\n' \
            "$SMTP_URL" "$API_WORKERS" "$BIN_DIR" "$API_SOCKET"
        printf 'ST_RT_PORT=%q\n' "$RT_PORT"
        printf 'ST_HTTPS_PORT=%q\n' "$HTTPS_PORT"
        printf 'ST_REDIS_PASSWORD=%q\n' "$REDIS_PASSWORD"
    } | write_if_changed "$RUN_DIR/stack.env" 0600
}

hr_render_config() {
    # The master key seals secrets at rest; made once, kept with the data.
    if [[ ! -s $RUN_DIR/master.key ]]; then
        (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$RUN_DIR/master.key")
    fi
    write_if_changed "$CONF" 0600 <<EOF
; Herald configuration rendered by scripts/herald up for the stack in
; $RUN_DIR. Change the environment of scripts/herald
; (docs/STACK.md) rather than this file: the next 'up' rewrites it.

[api]
socket = $API_SOCKET
workers = $API_WORKERS

[redis]
host = 127.0.0.1
port = $REDIS_PORT
password = $REDIS_PASSWORD

[postgres]
conninfo = $PG_DSN

[email]
smtp_url = $SMTP_URL

[sink]
dir = $RUN_DIR/sink

[security]
master_key_file = $RUN_DIR/master.key

[realtime]
port = $RT_PORT
EOF
    {
        printf '# Facts about the Herald stack in this folder: . %s\n' "$RUN_DIR/env"
        printf 'export HERALD_BASE_URL=%q\n' "$BASE_URL"
        printf 'export HERALD_RUN_DIR=%q\n' "$RUN_DIR"
        printf 'export HERALD_CONFIG=%q\n' "$CONF"
        printf 'export HERALD_BIN_DIR=%q\n' "$BIN_DIR"
        printf 'export HERALD_PG_DSN=%q\n' "$PG_DSN"
        printf 'export HERALD_REDIS_HOST=%q\n' 127.0.0.1
        printf 'export HERALD_REDIS_PORT=%q\n' "$REDIS_PORT"
        printf 'export HERALD_HTTP_PORT=%q\n' "$HTTP_PORT"
        printf 'export HERALD_HTTPS_PORT=%q\n' "$HTTPS_PORT"
        printf 'export HERALD_CA_FILE=%q\n' "$CA_FILE"
        printf 'export HERALD_PG_PORT=%q\n' "$PG_PORT"
        printf 'export HERALD_RT_PORT=%q\n' "$RT_PORT"
        [[ -z $REDIS_PASSWORD ]] || printf 'export HERALD_REDIS_PASSWORD=%q\n' "$REDIS_PASSWORD"
    } | write_if_changed "$RUN_DIR/env" 0600
}

# ---- PostgreSQL -------------------------------------------------------------------
# PG_REAL: the real folder behind RUN/pg (data/, sock/, postgres.log), owned by postgres.
PG_AS=()
hr_pg_paths() {
    if ((EUID == 0)); then
        PG_AS=(runuser -u postgres --)
    fi
    if [[ -e $RUN_DIR/pg ]]; then
        PG_REAL=$(readlink -f "$RUN_DIR/pg")
    else
        PG_REAL=''
    fi
}

hr_pg_prepare() {
    hr_pg_paths
    if [[ -z $PG_REAL ]]; then
        local sock_len=$((${#RUN_DIR} + 25))
        if ((EUID == 0)) && ! can_reach postgres "$RUN_DIR"; then
            PG_REAL=/tmp/herald-pg-$(short_hash "$RUN_DIR")
            warn "$RUN_DIR is not reachable by user postgres: data in $PG_REAL (RUN/pg links to it)"
        elif ((sock_len > 100)); then
            PG_REAL=/tmp/herald-pg-$(short_hash "$RUN_DIR")
            warn "$RUN_DIR/pg/sock is too long for a unix socket: data in $PG_REAL"
        else
            PG_REAL=$RUN_DIR/pg
        fi
        mkdir -p "$PG_REAL"
        if [[ $PG_REAL != "$RUN_DIR/pg" ]]; then
            ln -sfn "$PG_REAL" "$RUN_DIR/pg"
        fi
    fi
    mkdir -p "$PG_REAL/sock"
    if ((EUID == 0)); then
        chown postgres:postgres "$PG_REAL" "$PG_REAL/sock"
        chmod 0755 "$PG_REAL" "$PG_REAL/sock"
    fi
    ln -sfn "$RUN_DIR/pg/postgres.log" "$RUN_DIR/logs/postgres.log"
    if [[ ! -f $PG_REAL/data/PG_VERSION ]]; then
        local t0
        t0=$(now_s)
        (cd / && "${PG_AS[@]}" "$HR_PG_BIN/initdb" -D "$PG_REAL/data" --auth=trust -U postgres \
            -E UTF8 --locale=C --no-sync) >"$PG_REAL/initdb.log" 2>&1 ||
            {
                cat "$PG_REAL/initdb.log" >&2
                die "postgres: initdb failed"
            }
        say "postgres: initdb in $PG_REAL/data ($(elapsed "$t0"))"
    fi
}

pg_pid() {
    hr_pg_paths
    [[ -n $PG_REAL && -f $PG_REAL/data/postmaster.pid ]] || return 1
    local pid
    pid=$(head -n1 "$PG_REAL/data/postmaster.pid" 2>/dev/null) || return 1
    pid_alive "$pid" || return 1
    printf '%s' "$pid"
}

pg_psql() { # SQL [DB]
    "$HR_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres \
        -d "${2:-postgres}" -tAc "$1"
}

hr_pg_start() {
    hr_pg_prepare
    if pid=$(pg_pid); then
        say "postgres: already running (pid $pid)"
    else
        if port_in_use "$PG_PORT"; then
            die "postgres: port $PG_PORT is in use by another program (set HERALD_PG_PORT)"
        fi
        local t0
        t0=$(now_s)
        # Socket in the real folder: the postgres user may not be able to traverse RUN.
        # 200 connections: one per API child, three per worker plus the email lanes
        # (README, "Configuration"), with room for the tools.
        (cd / && "${PG_AS[@]}" "$HR_PG_BIN/pg_ctl" -D "$PG_REAL/data" -l "$PG_REAL/postgres.log" \
            -w -t 60 -s \
            -o "-k $PG_REAL/sock -p $PG_PORT -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" \
            start 9>&- </dev/null) || {
            show_log "$RUN_DIR/logs/postgres.log" 30
            die "postgres: pg_ctl start failed"
        }
        say "postgres: started on port $PG_PORT ($(elapsed "$t0"))"
    fi
    if [[ $(pg_psql "SELECT 1 FROM pg_database WHERE datname = 'herald'") != 1 ]]; then
        pg_psql "CREATE DATABASE herald" || die "postgres: cannot create database herald"
        say "postgres: created database herald"
    fi
}

hr_pg_stop() {
    hr_pg_paths
    if pid=$(pg_pid); then
        (cd / && "${PG_AS[@]}" "$HR_PG_BIN/pg_ctl" -D "$PG_REAL/data" -m fast -w -t 60 -s stop) ||
            die "postgres: pg_ctl stop failed"
        say "postgres: stopped"
    else
        say "postgres: not running"
    fi
}

# ---- supervised processes ---------------------------------------------------------
# hr_cmd NAME -> CMD array: the command line of a supervised process.
hr_cmd() {
    local name=$1
    case $name in
    redis)
        CMD=(redis-server "$RUN_DIR/redis/redis.conf")
        ;;
    nginx)
        CMD=(nginx -p "$RUN_DIR/nginx/" -c conf/nginx.conf -e "$RUN_DIR/logs/nginx-error.log"
            -g 'daemon off;')
        ;;
    herald-worker-*)
        CMD=("$BIN_DIR/herald-worker" -c "$CONF" --channel "${name#herald-worker-}")
        ;;
    herald-api | herald-router | herald-sweeper | herald-realtime)
        CMD=("$BIN_DIR/$name" -c "$CONF")
        ;;
    *) die "no command for '$name'" ;;
    esac
}

# What a process needs before it can start (files rendered, binary present).
hr_prereq() {
    local name=$1
    case $name in
    redis) [[ -f $RUN_DIR/redis/redis.conf ]] || hr_render_redis ;;
    nginx) hr_render_nginx ;;
    herald-*)
        [[ -f $CONF ]] || die "$CONF is missing: run 'scripts/herald up' first"
        local bin=${CMD[0]}
        [[ -x $bin ]] || die "$bin not found: run 'scripts/herald build' (or set HERALD_BIN_DIR)"
        ;;
    esac
}

# start_sup NAME: start NAME's supervisor unless it runs; waits until the child runs.
start_sup() {
    local name=$1 pid
    if pid=$(sup_pid "$name"); then
        say "$name: already running (pid $pid)"
        return 0
    fi
    hr_cmd "$name"
    hr_prereq "$name"
    rm -f "$RUN_DIR/pids/$name.pid" "$RUN_DIR/pids/$name.child"
    hr_clean_env
    # Detached (own session, no terminal, stdin /dev/null) so it outlives this shell; no
    # nohup: SIGHUP must stay deliverable (it is forwarded as "reload"). fd 9 is our lock.
    "${CLEAN_ENV[@]}" setsid "$HERALD_ROOT/scripts/supervise" "$name" "$RUN_DIR" -- "${CMD[@]}" \
        </dev/null >/dev/null 2>&1 9>&- &
    local deadline=$((SECONDS + 10))
    while ! child_pid "$name" >/dev/null || ! sup_pid "$name" >/dev/null; do
        if ((SECONDS >= deadline)); then
            show_log "$RUN_DIR/logs/$name.log" 20
            die "$name: supervisor did not start"
        fi
        sleep 0.05
    done
    say "$name: started (pid $(sup_pid "$name"), child $(child_pid "$name"))"
}

# stop_sups NAME...: SIGTERM every supervisor, then wait until all are gone.
stop_sups() {
    local name pid pids=() names=()
    for name in "$@"; do
        if pid=$(sup_pid "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$name")
        fi
    done
    ((${#pids[@]})) || return 0
    local timeout=$((${HERALD_STOP_TIMEOUT:-15} + 10))
    local deadline=$((SECONDS + timeout)) i alive
    while :; do
        alive=0
        for i in "${!pids[@]}"; do
            if pid_alive "${pids[$i]}"; then
                alive=1
            fi
        done
        ((alive)) || break
        if ((SECONDS >= deadline)); then
            for i in "${!pids[@]}"; do
                if pid_alive "${pids[$i]}"; then
                    warn "${names[$i]}: supervisor ${pids[$i]} still running after ${timeout} s; killing it"
                    kill -KILL "${pids[$i]}" 2>/dev/null || true
                    local c
                    if c=$(child_pid "${names[$i]}"); then
                        kill -KILL "$c" 2>/dev/null || true
                    fi
                fi
            done
            break
        fi
        sleep 0.05
    done
    for name in "${names[@]}"; do
        say "$name: stopped"
    done
}

# ---- Redis ------------------------------------------------------------------------
hr_render_redis() {
    local auth=''
    [[ -z $REDIS_PASSWORD ]] || auth="requirepass $REDIS_PASSWORD"
    write_if_changed "$RUN_DIR/redis/redis.conf" 0600 <<EOF
# Redis for the Herald stack in $RUN_DIR (rendered by scripts/herald up).
bind 127.0.0.1
port $REDIS_PORT
protected-mode no
daemonize no
supervised no
dir $RUN_DIR/redis
logfile ""
save ""
# The ingest log is durable: every write is fsynced to the append-only file.
appendonly yes
appendfsync always
tcp-backlog 511
$auth
EOF
}

redis_ping() {
    [[ $(REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

hr_redis_start() {
    if ! sup_pid redis >/dev/null && port_in_use "$REDIS_PORT"; then
        die "redis: port $REDIS_PORT is in use by another program (set HERALD_REDIS_PORT)"
    fi
    hr_render_redis
    start_sup redis
    local deadline=$((SECONDS + 20))
    until redis_ping; do
        if ((SECONDS >= deadline)); then
            show_log "$RUN_DIR/logs/redis.log" 30
            die "redis: no PONG on port $REDIS_PORT"
        fi
        sleep 0.05
    done
}

# ---- TLS --------------------------------------------------------------------------
# Without HERALD_TLS_CERT/KEY: a local CA and a certificate for 127.0.0.1 and localhost
# signed by it, made once in RUN/tls (clients trust RUN/tls/ca.pem).
hr_render_tls() {
    if [[ $TLS_CERT != "$RUN_DIR/tls/cert.pem" ]]; then
        [[ -r $TLS_CERT && -r $TLS_KEY ]] || die "tls: cannot read $TLS_CERT / $TLS_KEY"
        return 0
    fi
    [[ -s $RUN_DIR/tls/cert.pem && -s $RUN_DIR/tls/key.pem && -s $RUN_DIR/tls/ca.pem ]] && return 0
    local d=$RUN_DIR/tls out
    mkdir -p "$d"
    chmod 0755 "$d"
    if ! out=$( (
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
            -subj '/CN=Herald local CA' -keyout "$d/ca.key" -out "$d/ca.pem" \
            -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' &&
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=localhost' \
                -keyout "$d/key.pem" -out "$d/cert.csr" &&
            printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=CA:FALSE' \
                'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' >"$d/cert.ext" &&
            openssl x509 -req -in "$d/cert.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
                -days 825 -extfile "$d/cert.ext" -out "$d/cert.pem"
    ) 2>&1); then
        printf '%s\n' "$out" >&2
        die "tls: openssl could not make the local certificate in $d"
    fi
    chmod 0644 "$d/ca.pem" "$d/cert.pem"
    rm -f "$d/cert.csr" "$d/cert.ext"
    say "tls: local CA and certificate for 127.0.0.1 in $d (trust $d/ca.pem)"
}

# ---- nginx ------------------------------------------------------------------------
hr_render_nginx() {
    local tpl=$HERALD_ROOT/nginx/herald.conf.in prefix=$RUN_DIR/nginx
    [[ -f $tpl ]] || die "nginx: template $tpl missing"
    mkdir -p "$prefix/conf" "$prefix/tmp"
    ln -sfn ../logs "$prefix/logs"
    local esc_prefix esc_run esc_sock
    esc_prefix=$(printf '%s' "$prefix" | sed 's/[&|\\]/\\&/g')
    esc_run=$(printf '%s' "$RUN_DIR" | sed 's/[&|\\]/\\&/g')
    esc_sock=$(printf '%s' "$API_SOCKET" | sed 's/[&|\\]/\\&/g')
    # The realtime browser client and demo page (realtime/web) are served as /demo/.
    local esc_web
    esc_web=$(printf '%s' "$HERALD_ROOT/realtime/web" | sed 's/[&|\\]/\\&/g')
    hr_render_tls
    local esc_cert esc_key
    esc_cert=$(printf '%s' "$TLS_CERT" | sed 's/[&|\\]/\\&/g')
    esc_key=$(printf '%s' "$TLS_KEY" | sed 's/[&|\\]/\\&/g')
    sed -e "s|@PREFIX@|$esc_prefix|g" -e "s|@RUN_DIR@|$esc_run|g" \
        -e "s|@TLS_CERT@|$esc_cert|g" -e "s|@TLS_KEY@|$esc_key|g" \
        -e "s|@HTTPS_PORT@|$HTTPS_PORT|g" -e "s|@KEY_RATE@|$NGINX_KEY_RATE|g" \
        -e "s|@IP_RATE@|$NGINX_IP_RATE|g" \
        -e "s|@API_SOCKET@|$esc_sock|g" -e "s|@PORT@|$HTTP_PORT|g" \
        -e "s|@MAX_BODY@|$MAX_BODY|g" -e "s|@RT_PORT@|$RT_PORT|g" \
        -e "s|@WEB_DIR@|$esc_web|g" "$tpl" | write_if_changed "$prefix/conf/nginx.conf"
    if grep -q '@[A-Z_]*@' "$prefix/conf/nginx.conf"; then
        die "nginx: unsubstituted placeholders in $prefix/conf/nginx.conf: $(grep -o '@[A-Z_]*@' "$prefix/conf/nginx.conf" | sort -u | tr '\n' ' ')"
    fi
    local out
    if ! out=$(nginx -t -q -p "$prefix/" -c conf/nginx.conf -e "$RUN_DIR/logs/nginx-error.log" 2>&1); then
        printf '%s\n' "$out" >&2
        die "nginx: configuration test failed ($prefix/conf/nginx.conf)"
    fi
}

hr_nginx_start() {
    if ! sup_pid nginx >/dev/null && port_in_use "$HTTP_PORT"; then
        die "nginx: port $HTTP_PORT is in use by another program (set HERALD_HTTP_PORT)"
    fi
    if ! sup_pid nginx >/dev/null && port_in_use "$HTTPS_PORT"; then
        die "nginx: port $HTTPS_PORT is in use by another program (set HERALD_HTTPS_PORT)"
    fi
    start_sup nginx
    wait_port "$HTTPS_PORT" 10 || {
        show_log "$RUN_DIR/logs/nginx-error.log" 30
        show_log "$RUN_DIR/logs/nginx.log" 30
        die "nginx: not listening on port $HTTP_PORT"
    }
}

# ---- Herald's programs ------------------------------------------------------------
hr_admin() { # ARGS... (stdout: the command's JSON; stderr: to RUN/logs/herald-admin.log)
    hr_clean_env
    "${CLEAN_ENV[@]}" "$BIN_DIR/herald-admin" -c "$CONF" "$@" 2>>"$RUN_DIR/logs/herald-admin.log"
}

hr_herald_names() {
    hr_sup_names | grep '^herald-'
}

hr_check_binaries() {
    local b missing=()
    for b in herald-api herald-router herald-worker herald-sweeper herald-realtime herald-admin; do
        [[ -x $BIN_DIR/$b ]] || missing+=("$b")
    done
    ((${#missing[@]} == 0)) || die "not built in $BIN_DIR: ${missing[*]}"
}

demo_key() {
    "$HR_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["environments"]["development"]["api_key"])' \
        "$RUN_DIR/demo.json"
}

# ---- commands ---------------------------------------------------------------------
hr_lock() {
    # One `up`/`down`/`start`/`stop` at a time per run folder.
    exec 9>"$RUN_DIR/.lock"
    flock -w 120 9 || die "another scripts/herald command holds $RUN_DIR/.lock"
}

cmd_up() {
    local t0
    t0=$(now_s)
    if [[ ${HERALD_SKIP_DEPS:-0} != 1 ]]; then
        cmd_deps
    fi
    if [[ ${HERALD_SKIP_BUILD:-0} != 1 ]]; then
        cmd_build
    fi
    hr_check_binaries
    hr_run_dirs
    hr_lock
    if [[ ! -f $RUN_DIR/stack.env ]] || ! sup_pid herald-api >/dev/null; then
        hr_pick_api_socket
    fi
    hr_render_stack_env
    hr_pg_start
    hr_redis_start
    hr_render_config

    local out
    if ! out=$(hr_admin migrate "$HERALD_ROOT/sql"); then
        show_log "$RUN_DIR/logs/herald-admin.log" 30
        die "herald-admin migrate failed"
    fi
    say "migrate: $(printf '%s' "$out" | tr -d '\n' | cut -c1-200)"
    if [[ ! -s $RUN_DIR/demo.json ]]; then
        local tmp=$RUN_DIR/demo.json.tmp
        (umask 077 && hr_admin create-tenant --name Demo >"$tmp") || {
            rm -f "$tmp"
            show_log "$RUN_DIR/logs/herald-admin.log" 30
            die "herald-admin create-tenant failed"
        }
        mv -f "$tmp" "$RUN_DIR/demo.json"
        say "created tenant Demo: $RUN_DIR/demo.json"
    fi
    local key
    key=$(demo_key) || die "cannot read the development API key from $RUN_DIR/demo.json"

    local name
    for name in $(hr_herald_names); do
        start_sup "$name"
    done
    hr_nginx_start

    hr_wait_ready "${HERALD_READY_TIMEOUT:-30}"
    say "up: ready in $(elapsed "$t0")"
    hr_print_usage "$key"
    if [[ ${HERALD_NO_DEMO:-0} != 1 ]]; then
        hr_demo "$key"
    fi
}

hr_wait_ready() { # TIMEOUT_S
    local deadline=$((SECONDS + $1)) code=000
    while ((SECONDS < deadline)); do
        code=$(curl -s "${CURL_TLS[@]}" -o /dev/null -w '%{http_code}' --max-time 2 "$BASE_URL/readyz" || true)
        [[ $code == 200 ]] && return 0
        sleep 0.2
    done
    warn "GET $BASE_URL/readyz did not answer 200 within $1 s (last: $code)"
    curl -s "${CURL_TLS[@]}" --max-time 2 "$BASE_URL/readyz" >&2 || true
    echo >&2
    local name
    for name in nginx-error herald-api redis postgres; do
        show_log "$RUN_DIR/logs/$name.log" 30
    done
    die "the stack is not ready (logs: scripts/herald logs NAME)"
}

hr_print_usage() {
    local key=$1
    cat <<EOF

  Herald is running.
    base URL   $BASE_URL
    API key    $key   (tenant Demo, development; all keys in $RUN_DIR/demo.json)
    facts      . $RUN_DIR/env
    stop       scripts/herald down

  Send a notification:
    curl -sS${CA_FILE:+ --cacert $CA_FILE} -X POST $BASE_URL/v1/notifications \\
      -H 'Authorization: Bearer $key' \\
      -H 'Content-Type: application/json' \\
      -d '{"user":{"id":"user-1","email":"you@example.com"},"type":"demo.hello","title":"Hello from Herald","body":"It works.","channels":["email","in_app"]}'

EOF
}

hr_demo() {
    local key=$1 maildir=$RUN_DIR/sink/email/Maildir/new before resp code body t0
    before=$(find "$maildir" -maxdepth 1 -name '*.eml' 2>/dev/null | sort)
    t0=$(now_s)
    resp=$(curl -sS "${CURL_TLS[@]}" --max-time 10 -w '\n%{http_code}' -X POST "$BASE_URL/v1/notifications" \
        -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        -d '{"user":{"id":"demo-user","email":"demo@example.com"},"type":"demo.hello","title":"Hello from Herald","body":"Your local Herald stack works.","channels":["email","in_app"]}') ||
        die "demo: POST /v1/notifications failed"
    code=${resp##*$'\n'}
    body=${resp%$'\n'*}
    body=${body%$'\n'}
    [[ $code == 202 ]] || die "demo: POST /v1/notifications answered $code: $body"
    say "demo: sent: $body"
    if [[ -n $SMTP_URL ]]; then
        say "demo: email goes to $SMTP_URL (not waiting for it)"
        return 0
    fi
    local deadline=$((SECONDS + ${HERALD_DEMO_TIMEOUT:-20})) f
    while ((SECONDS < deadline)); do
        f=$(comm -13 <(printf '%s\n' "$before") \
            <(find "$maildir" -maxdepth 1 -name '*.eml' 2>/dev/null | sort) | head -n1)
        if [[ -n $f ]]; then
            say "demo: delivered to the sink in $(elapsed "$t0"): $f"
            return 0
        fi
        sleep 0.2
    done
    local name
    for name in herald-router herald-worker-email; do
        show_log "$RUN_DIR/logs/$name.log" 30
    done
    die "demo: no new email in $maildir after ${HERALD_DEMO_TIMEOUT:-20} s"
}

cmd_down() {
    [[ -d $RUN_DIR ]] || {
        say "down: no run folder $RUN_DIR"
        return 0
    }
    mkdir -p "$RUN_DIR/pids"
    hr_lock
    stop_sups nginx
    # shellcheck disable=SC2046
    stop_sups $(hr_herald_names)
    stop_sups redis
    hr_pg_stop
}

cmd_status() {
    local name pid c rc=0
    if pid=$(pg_pid); then
        printf '%-22s running  pid %s\n' postgres "$pid"
    else
        printf '%-22s stopped\n' postgres
        rc=3
    fi
    for name in $(hr_sup_names); do
        if pid=$(sup_pid "$name"); then
            if c=$(child_pid "$name"); then
                printf '%-22s running  pid %s (supervisor %s)\n' "$name" "$c" "$pid"
            else
                printf '%-22s starting (supervisor %s, child restarting)\n' "$name" "$pid"
                rc=3
            fi
        else
            printf '%-22s stopped\n' "$name"
            rc=3
        fi
    done
    return $rc
}

cmd_logs() {
    local follow=0 n=${HERALD_LOG_LINES:-50}
    while [[ $# -gt 0 ]]; do
        case $1 in
        -f | --follow) follow=1 ;;
        -n) n=$2; shift ;;
        *) break ;;
        esac
        shift
    done
    [[ -d $RUN_DIR/logs ]] || die "no logs in $RUN_DIR/logs"
    local files=()
    if [[ $# -gt 0 ]]; then
        local a
        for a in "$@"; do
            if [[ -e $RUN_DIR/logs/$a.log ]]; then
                files+=("$RUN_DIR/logs/$a.log")
            else
                local n
                n=$(hr_canon_name "$a") || exit 1
                files+=("$RUN_DIR/logs/$n.log")
            fi
        done
    else
        local f
        for f in "$RUN_DIR"/logs/*.log; do
            [[ -e $f ]] && files+=("$f")
        done
    fi
    ((${#files[@]})) || die "no logs in $RUN_DIR/logs"
    if ((follow)); then
        exec tail -n "$n" -F "${files[@]}"
    fi
    tail -n "$n" "${files[@]}"
}

hr_start_one() {
    local name=$1
    case $name in
    postgres) hr_pg_start ;;
    redis) hr_redis_start ;;
    nginx) hr_nginx_start ;;
    *) start_sup "$name" ;;
    esac
}

hr_stop_one() {
    local name=$1
    case $name in
    postgres) hr_pg_stop ;;
    *)
        if sup_pid "$name" >/dev/null; then
            stop_sups "$name"
        else
            say "$name: not running"
        fi
        ;;
    esac
}

cmd_start() {
    [[ $# -ge 1 ]] || die "usage: scripts/herald start NAME..."
    [[ -f $RUN_DIR/stack.env ]] || die "no stack in $RUN_DIR: run 'scripts/herald up' first"
    local a n names=()
    for a in "$@"; do
        n=$(hr_canon_name "$a") || exit 1
        names+=("$n")
    done
    hr_lock
    for n in "${names[@]}"; do
        hr_start_one "$n"
    done
}

cmd_stop() {
    [[ $# -ge 1 ]] || die "usage: scripts/herald stop NAME..."
    [[ -d $RUN_DIR ]] || die "no run folder $RUN_DIR"
    local a n names=()
    for a in "$@"; do
        n=$(hr_canon_name "$a") || exit 1
        names+=("$n")
    done
    hr_lock
    for n in "${names[@]}"; do
        hr_stop_one "$n"
    done
}

cmd_restart() {
    [[ $# -ge 1 ]] || die "usage: scripts/herald restart NAME..."
    [[ -f $RUN_DIR/stack.env ]] || die "no stack in $RUN_DIR: run 'scripts/herald up' first"
    local a n names=()
    for a in "$@"; do
        n=$(hr_canon_name "$a") || exit 1
        names+=("$n")
    done
    hr_lock
    for n in "${names[@]}"; do
        hr_stop_one "$n"
        hr_start_one "$n"
    done
}

# reload NAME: SIGHUP to the process (via its supervisor), e.g. after editing herald.conf.
cmd_reload() {
    [[ $# -ge 1 ]] || die "usage: scripts/herald reload NAME..."
    local a n pid
    for a in "$@"; do
        n=$(hr_canon_name "$a") || exit 1
        if [[ $n == postgres ]]; then
            hr_pg_paths
            (cd / && "${PG_AS[@]}" "$HR_PG_BIN/pg_ctl" -D "$PG_REAL/data" -s reload)
        elif pid=$(sup_pid "$n"); then
            kill -HUP "$pid"
            say "$n: SIGHUP sent"
        else
            die "$n: not running"
        fi
    done
}
