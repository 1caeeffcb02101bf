# bench.sh: `scripts/herald bench ingest|drain [email|webhook]|e2e` — benchmarks on a throwaway
# stack, each figure next to the ceiling measured in the same run (see
# docs/BENCHMARKS.md). Benchmarks, not tests: they print numbers and never fail on them.

B_RUN=''
B_PIDS=()

hr_bench_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    local p
    for p in "${B_PIDS[@]}"; do
        kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null
    done
    if [[ -n $B_RUN && -d $B_RUN ]]; then
        local d
        for d in hello-nginx hook-nginx; do
            [[ -f $B_RUN/$d/nginx.pid ]] && nginx -p "$B_RUN/$d" -c nginx.conf -s stop 2>/dev/null
        done
        b_herald down >/dev/null 2>&1
        if [[ ${HERALD_KEEP_RUN:-0} != 1 ]]; then
            if [[ -L $B_RUN/pg ]]; then
                local real
                real=$(readlink -f "$B_RUN/pg")
                [[ $real == /tmp/herald-pg-* ]] && rm -rf "$real"
            fi
            rm -rf "$B_RUN" "/tmp/herald-sock-$(short_hash "$B_RUN")"
        fi
    fi
    exit "$rc"
}

# Herald settings every bench stack runs with (passed through hr_clean_env): loopback
# webhook targets allowed, and the sweeper's re-queue of "queued without progress"
# deliveries pushed out of the way of a drain that takes minutes (it would add
# duplicate stream entries mid-measurement).
B_SETTINGS=(HERALD_PROVIDERS_PRIVATE_TARGETS=loopback HERALD_SWEEPER_REQUEUE_AFTER_S=3600)

# b_herald ARGS...: scripts/herald on the bench stack, with the bench's settings.
b_herald() {
    local names='' kv
    for kv in "${B_SETTINGS[@]}"; do
        names+=" ${kv%%=*}"
    done
    env HERALD_RUN_DIR="$B_RUN" "${B_SETTINGS[@]}" HERALD_PASS_ENV="${HERALD_PASS_ENV:-}$names" \
        "$HERALD_ROOT/scripts/herald" "$@"
}

# Starts a throwaway stack for the benchmarks (no demo message, local sinks).
hr_bench_stack() {
    B_RUN=$(mktemp -d /tmp/herald-bench.XXXXXX)
    chmod o+x "$B_RUN"
    trap hr_bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    local http_port https_port pg_port redis_port rt_port
    free_port http_port
    free_port https_port
    free_port pg_port
    free_port redis_port
    free_port rt_port
    HERALD_HTTP_PORT=$http_port HERALD_HTTPS_PORT=$https_port \
        HERALD_PG_PORT=$pg_port HERALD_REDIS_PORT=$redis_port HERALD_RT_PORT=$rt_port \
        HERALD_BUILD_DIR=$BUILD_DIR HERALD_SKIP_DEPS=1 HERALD_SKIP_BUILD=1 HERALD_NO_DEMO=1 \
        HERALD_EMAIL_SMTP_URL=${B_SMTP_URL:-} HERALD_API_WORKERS=$B_API_WORKERS \
        b_herald up >"$B_RUN/up.log" 2>&1 || {
        cat "$B_RUN/up.log" >&2
        die "bench: 'up' failed"
    }
    # shellcheck disable=SC1091
    . "$B_RUN/env"
    B_KEY=$(RUN_DIR=$B_RUN demo_key) || die "bench: no API key in $B_RUN/demo.json"
    B_URL=$HERALD_BASE_URL
    B_CURL=(curl -sS --cacert "$HERALD_CA_FILE" -H "Authorization: Bearer $B_KEY")
}

# b_nginx DIR PORT NAME HTTP: starts a throwaway nginx from DIR (logs/ and tmp/
# made by the caller) whose http block is HTTP, and waits for PORT; NAME is
# what the errors call it.
b_nginx() {
    local dir=$1 port=$2 name=$3 http=$4
    cat >"$dir/nginx.conf" <<EOF
user nobody nogroup;
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 4096; }
http {
    client_body_temp_path $dir/tmp/body; proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi; uwsgi_temp_path $dir/tmp/uwsgi; scgi_temp_path $dir/tmp/scgi;
$http
}
EOF
    nginx -p "$dir" -c nginx.conf || die "bench: $name did not start"
    wait_port "$port" 10 || die "bench: $name is not listening"
}

# The nginx -> FastCGI ceiling: the same nginx (TLS, same certificate) in front of
# a prefork libfcgi responder that answers without doing anything.
hr_bench_hello() {
    local port=$1 children=$2
    local dir=$B_RUN/hello-nginx cert key
    mkdir -p "$dir/logs" "$dir/tmp"
    cert=$(sed -n 's/^ *ssl_certificate  *\([^;]*\);/\1/p' "$B_RUN/nginx/conf/nginx.conf" | head -n1)
    key=$(sed -n 's/^ *ssl_certificate_key  *\([^;]*\);/\1/p' "$B_RUN/nginx/conf/nginx.conf" | head -n1)
    local listen="listen 127.0.0.1:$port backlog=4096;" tls=''
    B_HELLO_URL=http://127.0.0.1:$port/
    if [[ $B_URL == https:* ]]; then
        listen="listen 127.0.0.1:$port ssl backlog=4096;"
        tls="ssl_certificate $cert; ssl_certificate_key $key;"
        B_HELLO_URL=https://127.0.0.1:$port/
    fi
    setsid "$BUILD_DIR/tests/bench/fcgi_hello" "$dir/hello.sock" "$children" \
        >"$dir/logs/hello.log" 2>&1 </dev/null &
    B_HELLO_PID=$!
    B_PIDS+=("$B_HELLO_PID")
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -S $dir/hello.sock ]] && break
        sleep 0.1
    done
    b_nginx "$dir" "$port" "the ceiling nginx" "    access_log off;
    server {
        $listen
        $tls
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:$dir/hello.sock;
        }
    }"
}

# wrk_run LABEL ARGS...: runs wrk and prints "LABEL RESULT ..." (the script's line).
wrk_run() {
    local label=$1
    shift
    local out
    out=$(wrk "$@" 2>&1) || die "bench: wrk failed: $out"
    local line
    line=$(grep '^RESULT' <<<"$out")
    printf '%s %s\n' "$label" "$line" | tee -a "$B_RUN/results.txt"
}

field() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# b_pct A B -> A as a percentage of B (one decimal).
b_pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", 100 * a / b; else print "n/a" }'; }

bench_ingest() {
    local secs=${HERALD_BENCH_SECONDS:-10} conns=${HERALD_BENCH_CONNECTIONS:-64}
    local batch=${HERALD_BENCH_BATCH:-100}
    local hello_port
    free_port hello_port
    hr_bench_hello "$hello_port" "$B_API_WORKERS"
    say "bench ingest: ceiling (nginx -> FastCGI hello world, $B_API_WORKERS children), ${secs}s, $conns connections"
    wrk -t2 -c"$conns" -d2s -s "$HERALD_ROOT/tests/bench/plain.lua" "$B_HELLO_URL" >/dev/null 2>&1 || true
    local ceiling herald_api herald_full herald_batch
    local hn0 hf0 hn1 hf1 hello_nginx
    hello_nginx=$(<"$B_RUN/hello-nginx/nginx.pid")
    hn0=$(b_tree_cpu_s "$hello_nginx")
    hf0=$(b_tree_cpu_s "$B_HELLO_PID")
    ceiling=$(wrk_run ceiling -t2 -c"$conns" -d"${secs}s" --latency -s "$HERALD_ROOT/tests/bench/plain.lua" \
        "$B_HELLO_URL")
    hn1=$(b_tree_cpu_s "$hello_nginx")
    hf1=$(b_tree_cpu_s "$B_HELLO_PID")
    B_CEIL_CPU=$(awk -v a0="$hn0" -v a1="$hn1" -v f0="$hf0" -v f1="$hf1" \
        -v n="$(field accepted "$ceiling")" 'BEGIN { if (n < 1) n = 1
        printf "nginx %.0f us, fcgi_hello %.0f us", 1e6 * (a1 - a0) / n, 1e6 * (f1 - f0) / n }')
    say "bench ingest: ceiling CPU per request: $B_CEIL_CPU"
    nginx -p "$B_RUN/hello-nginx" -c nginx.conf -s stop 2>/dev/null || true

    say "bench ingest: Herald API only ($B_API_WORKERS API workers, router paused: the log grows), ${secs}s"
    b_herald stop router >/dev/null
    HERALD_KEY=$B_KEY wrk -t2 -c"$conns" -d2s -s "$HERALD_ROOT/tests/bench/post.lua" "$B_URL/" >/dev/null 2>&1 || true
    local api0 redis0 ngx0 api1 redis1 ngx1
    api0=$(b_tree_cpu_s "$(<"$B_RUN/pids/herald-api.child")")
    redis0=$(b_cpu_s "$(<"$B_RUN/pids/redis.child")")
    ngx0=$(b_tree_cpu_s "$(<"$B_RUN/pids/nginx.child")")
    herald_api=$(HERALD_KEY=$B_KEY wrk_run herald-api -t2 -c"$conns" -d"${secs}s" --latency \
        -s "$HERALD_ROOT/tests/bench/post.lua" "$B_URL/")
    api1=$(b_tree_cpu_s "$(<"$B_RUN/pids/herald-api.child")")
    redis1=$(b_cpu_s "$(<"$B_RUN/pids/redis.child")")
    ngx1=$(b_tree_cpu_s "$(<"$B_RUN/pids/nginx.child")")
    # CPU per accepted request, to set against the ceiling's.
    B_INGEST_CPU=$(awk -v a0="$api0" -v a1="$api1" -v r0="$redis0" -v r1="$redis1" \
        -v g0="$ngx0" -v g1="$ngx1" -v n="$(field accepted "$herald_api")" 'BEGIN { if (n < 1) n = 1
        printf "CPU per accepted request: nginx %.0f us, herald-api %.0f us, redis %.0f us",
            1e6 * (g1 - g0) / n, 1e6 * (a1 - a0) / n, 1e6 * (r1 - r0) / n }')
    say "bench ingest: $B_INGEST_CPU"
    say "bench ingest: Herald batch endpoint, $batch notifications per request (router paused), ${secs}s"
    herald_batch=$(HERALD_KEY=$B_KEY HERALD_BENCH_BATCH=$batch wrk_run herald-batch -t2 -c"$conns" \
        -d"${secs}s" --latency -s "$HERALD_ROOT/tests/bench/batch.lua" "$B_URL/")
    b_herald start router >/dev/null

    say "bench ingest: Herald with the whole pipeline running (router, in-app worker), ${secs}s"
    herald_full=$(HERALD_KEY=$B_KEY wrk_run herald-full -t2 -c"$conns" -d"${secs}s" --latency \
        -s "$HERALD_ROOT/tests/bench/post.lua" "$B_URL/")

    local c a f b
    c=$(field accepted_per_s "$ceiling")
    a=$(field accepted_per_s "$herald_api")
    f=$(field accepted_per_s "$herald_full")
    b=$(field accepted_per_s "$herald_batch")
    printf '\n| run (%s API workers, %s connections) | accepted/s | p50 ms | p99 ms | of ceiling |\n|---|---|---|---|---|\n' \
        "$B_API_WORKERS" "$conns"
    printf '| ceiling: nginx -> FastCGI hello | %s | %s | %s | 100 %% |\n' "$c" \
        "$(field p50_ms "$ceiling")" "$(field p99_ms "$ceiling")"
    printf '| Herald API (router paused) | %s | %s | %s | %s %% |\n' "$a" \
        "$(field p50_ms "$herald_api")" "$(field p99_ms "$herald_api")" "$(b_pct "$a" "$c")"
    printf '| Herald, whole pipeline | %s | %s | %s | %s %% |\n' "$f" \
        "$(field p50_ms "$herald_full")" "$(field p99_ms "$herald_full")" "$(b_pct "$f" "$c")"
    printf '| Herald batch, %s per request (notifications/s; latency per request) | %s | %s | %s | %s %% |\n\n' \
        "$batch" "$b" "$(field p50_ms "$herald_batch")" "$(field p99_ms "$herald_batch")" "$(b_pct "$b" "$c")"
    printf 'Ceiling CPU per request: %s. Herald API run: %s.\nTarget: >= 60 %% of the ceiling, p99 < 10 ms.\n\n' \
        "$B_CEIL_CPU" "$B_INGEST_CPU"
}

# ---- drain ------------------------------------------------------------------------
b_psql() { "$HR_PG_BIN/psql" -X -qtA -v ON_ERROR_STOP=1 -d "$HERALD_PG_DSN" -c "$1"; }

b_redis() {
    if [[ -n ${HERALD_REDIS_PASSWORD:-} ]]; then
        REDISCLI_AUTH=$HERALD_REDIS_PASSWORD redis-cli -h 127.0.0.1 -p "$HERALD_REDIS_PORT" "$@"
    else
        redis-cli -h 127.0.0.1 -p "$HERALD_REDIS_PORT" "$@"
    fi
}

# b_bg NAME CMD...: a helper process of the bench in its own session (stopped by the
# cleanup trap); its output goes to RUN/logs/NAME.log. Sets B_LAST_PID.
b_bg() {
    local name=$1
    shift
    setsid "$@" </dev/null >"$B_RUN/logs/$name.log" 2>&1 &
    B_LAST_PID=$!
    B_PIDS+=("$B_LAST_PID")
}

b_kill() { # PID: stop one helper started with b_bg, wait for it, forget it
    kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local p keep=()
    for p in "${B_PIDS[@]}"; do
        [[ $p == "$1" ]] || keep+=("$p")
    done
    B_PIDS=("${keep[@]}")
}

# b_wait_sql SQL WANT TIMEOUT_S: polls until SQL (a count) reaches WANT.
b_wait_sql() {
    local sql=$1 want=$2 deadline=$((SECONDS + $3)) n=0
    while ((SECONDS < deadline)); do
        n=$(b_psql "$sql") || n=0
        ((n >= want)) && return 0
        sleep 0.2
    done
    warn "bench: waited $3 s for $want, have $n ($sql)"
    return 1
}

# b_enqueue N CHANNEL PREFIX: N notifications on CHANNEL through the batch endpoint
# (1,000 per request, two requests at a time). Prints the number accepted.
b_enqueue() {
    local n=$1 channel=$2 prefix=$3 dir=$B_RUN/batches/$3
    mkdir -p "$dir"
    "$HR_PY" - "$n" "$channel" "$prefix" "$dir" <<'PY'
import json, sys
n, channel, prefix, d = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
for f, start in enumerate(range(0, n, 1000)):
    items = [{"user": {"id": f"{prefix}-{i}", "email": f"{prefix}-{i}@example.com"},
              "type": "bench.drain", "title": f"{prefix} {i}",
              "body": "Your order has shipped and is on its way.", "channels": [channel]}
             for i in range(start, min(n, start + 1000))]
    with open(f"{d}/{f:04d}.json", "w") as fh:
        json.dump({"notifications": items}, fh)
PY
    local f
    for f in "$dir"/*.json; do
        printf '%s\n' "$f"
    done | xargs -P 2 -I{} "${B_CURL[@]}" -o '{}.out' -H 'Content-Type: application/json' \
        --data-binary '@{}' "$B_URL/v1/notifications/batch"
    cat "$dir"/*.out | grep -o '"status": *202' | wc -l
}

# Commits of the herald database and WAL flushes so far, "commits|syncs".
B_PG_STATS="SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = 'herald') || '|' || (SELECT wal_sync FROM pg_stat_wal)"

b_cpu_s() { # PID -> user + system CPU seconds of that process
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}

b_tree_cpu_s() { # PID -> CPU seconds of PID and its children (a prefork pool)
    local p total=0
    for p in "$1" $(pgrep -P "$1"); do
        total=$(awk -v a="$total" -v b="$(b_cpu_s "$p")" 'BEGIN { printf "%.2f", a + b }')
    done
    printf '%s' "$total"
}

b_redis_cpu_s() { # -> CPU seconds Redis used so far (all its threads)
    b_redis INFO cpu | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.2f", s }'
}

b_reaped_cpu_s() { # [PID] -> CPU seconds of the children PID (this shell) has reaped so far
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($14 + $15) / hz }' \
        "/proc/${1:-$$}/stat" 2>/dev/null || echo 0
}

# b_per_us A0 A1 N -> µs per item of the CPU seconds A1 - A0 over N items.
b_per_us() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.1f", (n > 0) ? 1e6 * (b - a) / n : 0 }'; }

b_pg_cpu_s() { # -> CPU seconds of the whole PostgreSQL server so far: the postmaster and
    # its live children (b_tree_cpu_s), plus the children it reaped (its cutime, cstime:
    # backends that exited)
    local pm
    pm=$(head -n1 "$(b_psql "SHOW data_directory")/postmaster.pid" 2>/dev/null) || { echo 0; return; }
    awk -v a="$(b_tree_cpu_s "$pm")" -v b="$(b_reaped_cpu_s "$pm")" 'BEGIN { printf "%.2f", a + b }'
}

# b_drain CHANNEL N: with CHANNEL's worker stopped, enqueue N, wait until the router
# has stored them all (queued in PostgreSQL, on the channel's stream), start ONE
# worker and time until every delivery is sent. Sets B_DRAIN_RATE, B_DRAIN_SECS.
b_drain() {
    local channel=$1 n=$2 accepted t0 t_end sent q0 rest
    b_herald stop "worker-$channel" >/dev/null
    q0=$(b_psql "SELECT count(*) FROM deliveries WHERE channel = '$channel' AND status = 'sent'")
    say "bench drain $channel: enqueueing $n notifications (batch endpoint, worker stopped)"
    t0=$(now_s)
    accepted=$(b_enqueue "$n" "$channel" "drain-$channel")
    say "bench drain $channel: $accepted accepted in $(elapsed "$t0"); waiting for the router"
    ((accepted == n)) || warn "bench drain $channel: only $accepted of $n accepted"
    b_wait_sql "SELECT count(*) FROM deliveries WHERE channel = '$channel' AND status = 'queued'" \
        "$accepted" 600 || true
    say "bench drain $channel: $(b_psql "SELECT count(*) FROM deliveries WHERE channel = '$channel' AND status = 'queued'") queued in PostgreSQL, stream length $(b_redis XLEN "herald:deliveries:$channel") (stored in $(elapsed "$t0")); starting one worker"
    local x0 x1 cpu pg0 pg1 r0 r1
    x0=$(b_psql "$B_PG_STATS")
    pg0=$(b_pg_cpu_s) r0=$(b_redis_cpu_s)
    t0=$(now_s)
    b_herald start "worker-$channel" >/dev/null
    b_wait_sql "SELECT count(*) - $q0 FROM deliveries WHERE channel = '$channel' AND status = 'sent'" \
        "$accepted" "${HERALD_BENCH_DRAIN_TIMEOUT:-900}" || true
    # Where the time went: the worker's CPU seconds, and PostgreSQL's commits and
    # WAL flushes (each one an fsync) per delivery.
    x1=$(b_psql "$B_PG_STATS")
    pg1=$(b_pg_cpu_s) r1=$(b_redis_cpu_s)
    cpu=$(b_cpu_s "$(<"$B_RUN/pids/herald-worker-$channel.child")")
    # The last sent_at ends the drain (the poll above only notices it).
    t_end=$(b_psql "SELECT extract(epoch FROM max(sent_at)) FROM deliveries WHERE channel = '$channel' AND status = 'sent'")
    sent=$(($(b_psql "SELECT count(*) FROM deliveries WHERE channel = '$channel' AND status = 'sent'") - q0))
    rest=$(b_psql "SELECT coalesce(string_agg(status || ' ' || c, ', '), 'none') FROM (SELECT status, count(*) c FROM deliveries WHERE channel = '$channel' AND status <> 'sent' GROUP BY status) s")
    B_DRAIN_SECS=$(awk -v a="$t0" -v b="$t_end" 'BEGIN { printf "%.2f", b - a }')
    B_DRAIN_RATE=$(awk -v n="$sent" -v s="$B_DRAIN_SECS" 'BEGIN { printf "%.0f", (s > 0) ? n / s : 0 }')
    say "bench drain $channel: $sent sent in $B_DRAIN_SECS s by one worker ($B_DRAIN_RATE/s); not sent: $rest"
    # PostgreSQL's CPU includes the bench's own polling (a psql a second or so).
    B_DRAIN_WHY=$(awk -v x0="$x0" -v x1="$x1" -v n="$sent" -v cpu="$cpu" -v s="$B_DRAIN_SECS" \
        -v pg0="$pg0" -v pg1="$pg1" -v r0="$r0" -v r1="$r1" 'BEGIN {
        split(x0, a, "|"); split(x1, b, "|"); if (n < 1) n = 1
        printf "worker CPU %.1f s of %.1f s (%.0f %%, %.0f µs per delivery); PostgreSQL per delivery: %.2f commits, %.2f WAL fsyncs, %.0f µs of CPU; Redis %.1f µs of CPU per delivery",
            cpu, s, (s > 0) ? 100 * cpu / s : 0, 1e6 * cpu / n, (b[1] - a[1]) / n, (b[2] - a[2]) / n, 1e6 * (pg1 - pg0) / n, 1e6 * (r1 - r0) / n }')
    say "bench drain $channel: $B_DRAIN_WHY"
}

bench_drain_email() {
    local n=$1 port=$2 dir=$B_RUN/smtp
    mkdir -p "$dir/probe"
    chmod 0777 "$dir" "$dir/probe" # smtp-sink writes its dump as user postfix
    # Probe: one real Herald email, dumped by smtp-sink, is the ceiling's message.
    b_herald stop worker-email >/dev/null
    b_bg smtp-probe /usr/sbin/smtp-sink -u postfix -d "$dir/probe/m" "127.0.0.1:$port" 1024
    local probe=$B_LAST_PID
    wait_port "$port" 10 || die "bench: smtp-sink did not start on $port"
    b_herald start worker-email >/dev/null
    "${B_CURL[@]}" -o /dev/null -H 'Content-Type: application/json' "$B_URL/v1/notifications" \
        --data-binary '{"user":{"id":"probe","email":"probe@example.com"},"type":"bench.drain","title":"drain probe","body":"Your order has shipped and is on its way.","channels":["email"]}'
    b_wait_sql "SELECT count(*) FROM deliveries WHERE channel = 'email' AND status = 'sent'" 1 30 ||
        die "bench: the probe email was not sent (logs in $B_RUN/logs)"
    b_herald stop worker-email >/dev/null
    b_kill "$probe"
    # smtp-sink's dump starts with its own X-Client-*/Received lines: keep from From:.
    awk '/^From: / { on = 1 } on { sub(/\r$/, ""); print }' "$dir"/probe/m* >"$dir/message.txt"
    local size
    size=$(wc -c <"$dir/message.txt")
    ((size > 100)) || die "bench: no probe message in $dir/probe"
    say "bench drain email: Herald's message is $size bytes; the ceiling sends the same message"

    local sessions=${HERALD_BENCH_SMTP_SESSIONS:-16}
    b_bg smtp-sink /usr/sbin/smtp-sink -u postfix "127.0.0.1:$port" 1024
    local sink=$B_LAST_PID
    wait_port "$port" 10 || die "bench: smtp-sink did not start on $port"
    say "bench drain email: ceiling: smtp-source -s $sessions -d -m $n -F message into smtp-sink"
    local t0 ceil_secs ceil_rate s0 c0
    s0=$(b_cpu_s "$sink") c0=$(b_reaped_cpu_s)
    t0=$(now_s)
    /usr/sbin/smtp-source -s "$sessions" -d -m "$n" -F "$dir/message.txt" -f herald@localhost \
        -t bench@example.com "127.0.0.1:$port" >"$B_RUN/logs/smtp-source.log" 2>&1 ||
        die "bench: smtp-source failed: $(tail -n 3 "$B_RUN/logs/smtp-source.log")"
    ceil_secs=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.2f", b - a }')
    ceil_rate=$(awk -v n="$n" -v s="$ceil_secs" 'BEGIN { printf "%.0f", n / s }')
    # What one message costs the sink, and postfix's own lean client, in CPU.
    # shellcheck disable=SC2034 # B_CEIL_*: read as ${!ceil} in bench_drain
    B_CEIL_EMAIL=$ceil_rate
    B_SINK_US_EMAIL=$(b_per_us "$s0" "$(b_cpu_s "$sink")" "$n")
    B_CLIENT_US_EMAIL=$(b_per_us "$c0" "$(b_reaped_cpu_s)" "$n")
    say "bench drain email: ceiling $n in $ceil_secs s = $ceil_rate msgs/s; CPU per message: smtp-sink $B_SINK_US_EMAIL µs, smtp-source $B_CLIENT_US_EMAIL µs"

    b_drain email "$n"
    b_kill "$sink"
    {
        printf '\n| email drain, %s messages of %s bytes | seconds | msgs/s | of ceiling |\n|---|---|---|---|\n' "$n" "$size"
        printf '| ceiling: smtp-source -s %s -d into smtp-sink | %s | %s | 100 %% |\n' "$sessions" "$ceil_secs" "$ceil_rate"
        printf '| Herald: one email worker into the same smtp-sink | %s | %s | %s %% (target 50 %%) |\n\n' \
            "$B_DRAIN_SECS" "$B_DRAIN_RATE" "$(b_pct "$B_DRAIN_RATE" "$ceil_rate")"
        printf 'Herald: %s\n\n' "$B_DRAIN_WHY"
    } | tee -a "$B_RUN/results.txt"
}

# The webhook sink: nginx answering 204 to everything, logging each request's size.
b_webhook_sink() {
    local port=$1 dir=$B_RUN/hook-nginx
    mkdir -p "$dir/logs" "$dir/tmp"
    b_nginx "$dir" "$port" "the webhook sink nginx" "    log_format size '\$request_length \$content_length';
    access_log $dir/logs/access.log size buffer=256k flush=1s;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / { return 204; }
    }"
}

bench_drain_webhook() {
    local n=$1 port=$2 dir=$B_RUN/hook-nginx conns=${HERALD_BENCH_WEBHOOK_CONNECTIONS:-16}
    b_webhook_sink "$port"
    local ep
    ep=$("${B_CURL[@]}" -H 'Content-Type: application/json' "$B_URL/v1/webhook-endpoints" \
        --data-binary "{\"url\": \"http://127.0.0.1:$port/hook\"}")
    [[ $ep == *'"secret"'* ]] || die "bench: webhook endpoint not created: $ep"
    # Probe: the size of one real Herald webhook request.
    "${B_CURL[@]}" -o /dev/null -H 'Content-Type: application/json' "$B_URL/v1/notifications" \
        --data-binary '{"user":{"id":"probe","email":"probe@example.com"},"type":"bench.drain","title":"drain probe","body":"Your order has shipped and is on its way.","channels":["webhook"]}'
    b_wait_sql "SELECT count(*) FROM deliveries WHERE channel = 'webhook' AND status = 'sent'" 1 30 ||
        die "bench: the probe webhook was not sent (logs in $B_RUN/logs)"
    local i req_len='' body_len=''
    for ((i = 0; i < 30; i++)); do
        [[ -s $dir/logs/access.log ]] && break
        sleep 0.1
    done
    read -r req_len body_len <"$dir/logs/access.log" || true
    [[ $req_len =~ ^[0-9]+$ && $body_len =~ ^[0-9]+$ ]] || die "bench: no probe request in $dir/logs/access.log"
    # $request_length counts what nginx read: a "return 204" location reads no body.
    req_len=$((req_len + body_len))
    say "bench drain webhook: Herald's request is $req_len bytes ($body_len of body); wrk sends the same size"

    local secs=${HERALD_BENCH_SECONDS:-10} ceiling ceil_rate
    say "bench drain webhook: ceiling: wrk -t2 -c$conns POSTs into the sink, ${secs}s"
    local s0 c0 sink_pid
    sink_pid=$(<"$dir/nginx.pid")
    s0=$(b_tree_cpu_s "$sink_pid") c0=$(b_reaped_cpu_s)
    ceiling=$(HERALD_BENCH_REQ_LEN=$req_len HERALD_BENCH_BODY_LEN=$body_len wrk_run webhook-ceiling \
        -t2 -c"$conns" -d"${secs}s" --latency -s "$HERALD_ROOT/tests/bench/hook.lua" \
        "http://127.0.0.1:$port/hook")
    ceil_rate=$(field accepted_per_s "$ceiling")
    # What one request costs the sink, and wrk (a lean client), in CPU.
    # shellcheck disable=SC2034 # B_CEIL_*: read as ${!ceil} in bench_drain
    B_CEIL_WEBHOOK=$ceil_rate
    B_SINK_US_WEBHOOK=$(b_per_us "$s0" "$(b_tree_cpu_s "$sink_pid")" "$(field requests "$ceiling")")
    B_CLIENT_US_WEBHOOK=$(b_per_us "$c0" "$(b_reaped_cpu_s)" "$(field requests "$ceiling")")
    say "bench drain webhook: CPU per request: the sink $B_SINK_US_WEBHOOK µs, wrk $B_CLIENT_US_WEBHOOK µs"

    b_drain webhook "$n"
    nginx -p "$dir" -c nginx.conf -s stop 2>/dev/null || true
    {
        printf '\n| webhook drain, %s requests of %s bytes | seconds | req/s | of ceiling |\n|---|---|---|---|\n' "$n" "$req_len"
        printf '| ceiling: wrk -t2 -c%s into nginx return 204 | %s | %s | 100 %% |\n' "$conns" "$secs" "$ceil_rate"
        printf '| Herald: one webhook worker into the same sink | %s | %s | %s %% (target 40 %%) |\n\n' \
            "$B_DRAIN_SECS" "$B_DRAIN_RATE" "$(b_pct "$B_DRAIN_RATE" "$ceil_rate")"
        printf 'Herald: %s\n\n' "$B_DRAIN_WHY"
    } | tee -a "$B_RUN/results.txt"
}

# b_pg_floor_pass N MARK: N synthetic webhook deliveries (ids marked MARK, a hex
# digit), then tests/bench/pg_floor.sql over them in batches of 100 from
# HERALD_BENCH_FLOOR_CLIENTS (2) connections, and pg_floor_lookup.sql (its own
# bookkeeping) to subtract. Prints PostgreSQL's µs of CPU per delivery.
b_pg_floor_pass() {
    local n=$1 mark=$2 batch=100 clients=${HERALD_BENCH_FLOOR_CLIENTS:-2} env_id sent sql
    env_id=$(b_psql "SELECT id FROM environments ORDER BY created_at LIMIT 1")
    # 12 hex digits of milliseconds (this month's partitions), MARK, a kind, then i.
    b_psql "TRUNCATE floor_ids;
        CREATE TEMP TABLE p AS SELECT lpad(to_hex(floor(extract(epoch FROM now()) * 1000)::bigint), 12, '0') || '$mark' AS t;
        INSERT INTO notifications (id, environment_id, user_id, type, title, body, accepted_at)
            SELECT (p.t || 'f' || lpad(to_hex(i), 18, '0'))::uuid, '$env_id', 'floor-' || i, 'bench.floor',
                   'Floor', 'Your order has shipped and is on its way.', now()
            FROM p, generate_series(1, $n) i;
        INSERT INTO deliveries (id, notification_id, environment_id, channel, status)
            SELECT (p.t || 'e' || lpad(to_hex(i), 18, '0'))::uuid, (p.t || 'f' || lpad(to_hex(i), 18, '0'))::uuid,
                   '$env_id', 'webhook', 'queued'
            FROM p, generate_series(1, $n) i;
        INSERT INTO floor_ids SELECT (i - 1) / $batch + 1, (p.t || 'e' || lpad(to_hex(i), 18, '0'))::uuid
            FROM p, generate_series(1, $n) i;" >/dev/null
    for sql in "VACUUM ANALYZE floor_ids" "VACUUM ANALYZE deliveries" "VACUUM ANALYZE attempts" CHECKPOINT; do
        b_psql "$sql" >/dev/null
    done
    local pass file c0 cpu=()
    for pass in floor lookup; do
        file=$HERALD_ROOT/tests/bench/pg_floor.sql
        [[ $pass == lookup ]] && file=$HERALD_ROOT/tests/bench/pg_floor_lookup.sql
        b_psql "SELECT setval('floor_batch', 1, false)" >/dev/null
        c0=$(b_pg_cpu_s)
        "$HR_PG_BIN/pgbench" -n -M prepared -c "$clients" -j "$clients" -t $((n / batch / clients)) \
            -f "$file" "$HERALD_PG_DSN" >"$B_RUN/logs/pg-floor-$mark-$pass.log" 2>&1 ||
            die "bench floor: pgbench failed ($B_RUN/logs/pg-floor-$mark-$pass.log)"
        cpu+=("$(awk -v a="$c0" -v b="$(b_pg_cpu_s)" 'BEGIN { printf "%.2f", b - a }')")
    done
    sent=$(b_psql "SELECT count(*) FROM floor_ids f JOIN deliveries d USING (id) WHERE d.status = 'sent'")
    ((sent == n / batch / clients * batch * clients)) ||
        warn "bench floor: $sent of the synthetic deliveries ended sent"
    awk -v a="${cpu[0]}" -v b="${cpu[1]}" -v n="$sent" 'BEGIN { printf "%.0f", 1e6 * (a - b) / (n > 0 ? n : 1) }'
}

# b_pg_floor N: what PostgreSQL's CPU alone costs per delivery for the least that
# issue 4 makes a worker write (a claim with a lease committed before the send, one
# attempt row, the mark `sent`; tests/bench/pg_floor.sql) on Herald's own tables,
# autovacuum off: the lower of two passes (B_FLOOR_US). No Herald process runs it: it
# is a lower bound for any worker on this data model, set against the CPU the machine
# has per delivery at the drain targets. Then the same without the attempts' foreign
# key and the deliveries' three secondary indexes (B_FLOOR_BARE_US): the floor of a
# model stripped of what the sweeper, the receipts and the listings read.
b_pg_floor() {
    local n=$1 one two
    say "bench floor: $n synthetic deliveries, the least a worker writes for them (pgbench)"
    b_psql "CREATE TABLE floor_ids (b int, id uuid, PRIMARY KEY (b, id)); CREATE SEQUENCE floor_batch" >/dev/null
    b_psql "ALTER SYSTEM SET autovacuum = off" >/dev/null
    b_psql "SELECT pg_reload_conf()" >/dev/null
    one=$(b_pg_floor_pass "$n" a)
    two=$(b_pg_floor_pass "$n" b)
    B_FLOOR_US=$((one < two ? one : two))
    b_psql "ALTER TABLE attempts DROP CONSTRAINT attempts_delivery_id_fkey;
        DROP INDEX deliveries_notification, deliveries_pending, deliveries_provider_message" >/dev/null
    B_FLOOR_BARE_US=$(b_pg_floor_pass "$n" c)
    b_psql "ALTER SYSTEM RESET autovacuum" >/dev/null
    b_psql "SELECT pg_reload_conf()" >/dev/null
    say "bench floor: PostgreSQL CPU per delivery: $one and $two µs on Herald's tables; $B_FLOOR_BARE_US µs without their foreign key and secondary indexes (the stack's schema is changed now: nothing runs after this)"
}

# b_budget RATE TARGET_PCT: µs of CPU the whole machine has per delivery when
# delivering TARGET_PCT % of RATE a second.
b_budget() { awk -v r="$1" -v p="$2" -v c="$(nproc)" 'BEGIN { printf "%.0f", (r > 0) ? 1e6 * c / (r * p / 100) : 0 }'; }

bench_drain() {
    local n=${HERALD_BENCH_DRAIN_N:-50000} which=${1:-all}
    local hook_port
    free_port hook_port
    case $which in
    email) bench_drain_email "$n" "$B_SMTP_PORT" ;;
    webhook) bench_drain_webhook "$n" "$hook_port" ;;
    all)
        bench_drain_email "$n" "$B_SMTP_PORT"
        bench_drain_webhook "$n" "$hook_port"
        ;;
    *) die "bench drain: email, webhook or all, not '$which'" ;;
    esac
    # The floor, after the drains (its synthetic rows would be in their way).
    b_pg_floor "${HERALD_BENCH_FLOOR_N:-50000}"
    # Any worker needs at least: PostgreSQL's floor, the sink's work for one delivery,
    # and a client as lean as the ceiling's. Set against what the machine has.
    local ch sink client ceil pct
    {
        printf '\n| µs of CPU per delivery | PostgreSQL floor: Herald tables (stripped) | sink | lean client | lower bound: Herald tables (stripped) | the machine (%s cores) at the target |\n|---|---|---|---|---|---|\n' "$(nproc)"
        for ch in email webhook; do
            ceil=B_CEIL_${ch^^} sink=B_SINK_US_${ch^^} client=B_CLIENT_US_${ch^^}
            [[ -n ${!ceil:-} ]] || continue
            pct=50
            [[ $ch == webhook ]] && pct=40
            printf '| %s | %s (%s) | %s | %s | **%s** (%s) | **%s** (%s %% of %s/s) |\n' "$ch" \
                "$B_FLOOR_US" "$B_FLOOR_BARE_US" "${!sink}" "${!client}" \
                "$(awk -v a="$B_FLOOR_US" -v b="${!sink}" -v c="${!client}" 'BEGIN { printf "%.0f", a + b + c }')" \
                "$(awk -v a="$B_FLOOR_BARE_US" -v b="${!sink}" -v c="${!client}" 'BEGIN { printf "%.0f", a + b + c }')" \
                "$(b_budget "${!ceil}" "$pct")" "$pct" "${!ceil}"
        done
        printf '\n'
    } | tee -a "$B_RUN/results.txt"
}

# ---- end to end -------------------------------------------------------------------
# A steady RATE notifications/s through the whole pipeline into smtp_stamp, which
# notes when each message arrives; latency = arrival - accept time (the notification
# id is a UUIDv7 stamped by the API when it accepts).
bench_e2e() {
    local rate=${HERALD_BENCH_RATE:-1000} secs=${HERALD_BENCH_SECONDS:-20} load stamp before sent
    local workers=${HERALD_BENCH_EMAIL_WORKERS:-1} i
    # More email workers join the same consumer group (the stack runs one).
    for ((i = 1; i < workers; i++)); do
        b_bg "herald-worker-email-$i" env -i "PATH=$PATH" "HOME=${HOME:-/root}" LANG=C.UTF-8 \
            "HERALD_CONFIG=$HERALD_CONFIG" "HERALD_RUN_DIR=$B_RUN" "${B_SETTINGS[@]}" \
            "$HERALD_BIN_DIR/herald-worker" -c "$HERALD_CONFIG" --channel email
    done
    b_bg smtp-warm "$BUILD_DIR/tests/bench/smtp_stamp" "$B_SMTP_PORT"
    local warm=$B_LAST_PID
    wait_port "$B_SMTP_PORT" 10 || die "bench: smtp_stamp did not start"
    say "bench e2e: warm-up, 200/s for 3 s"
    "$BUILD_DIR/tests/bench/e2e_load" "$B_URL" "$B_KEY" 200 3 "$HERALD_CA_FILE" >/dev/null || true
    b_wait_sql "SELECT count(*) FROM deliveries WHERE channel = 'email' AND status IN ('sent', 'failed')" 600 30 || true
    b_kill "$warm"
    # Ceiling: how fast the same sink takes messages of the same size from postfix's
    # smtp-source (16 sessions, connections reused), so the sink is known not to be
    # the limit.
    local ceil_rate='n/a' ceil_port t0
    if [[ -x /usr/sbin/smtp-source ]]; then
        free_port ceil_port
        b_bg smtp-ceiling "$BUILD_DIR/tests/bench/smtp_stamp" "$ceil_port"
        local ceil=$B_LAST_PID
        wait_port "$ceil_port" 10 || die "bench: smtp_stamp did not start"
        t0=$(now_s)
        /usr/sbin/smtp-source -s 16 -d -m 20000 -l 1930 -f herald@localhost -t bench@example.com \
            "127.0.0.1:$ceil_port" >"$B_RUN/logs/smtp-source.log" 2>&1 || true
        ceil_rate=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.0f", 20000 / (b - a) }')
        b_kill "$ceil"
        say "bench e2e: ceiling: smtp-source -s 16 -d -l 1930 into smtp_stamp: $ceil_rate msgs/s"
    fi
    b_bg smtp-stamp "$BUILD_DIR/tests/bench/smtp_stamp" "$B_SMTP_PORT" "$B_RUN/e2e-received.txt"
    local sink=$B_LAST_PID
    wait_port "$B_SMTP_PORT" 10 || die "bench: smtp_stamp did not start"
    before=$(b_psql "SELECT count(*) FROM deliveries WHERE channel = 'email' AND status IN ('sent', 'failed')")
    say "bench e2e: $rate notifications/s for ${secs}s (email, one SMTP sink)"
    load=$("$BUILD_DIR/tests/bench/e2e_load" "$B_URL" "$B_KEY" "$rate" "$secs" "$HERALD_CA_FILE" 2>&1) || true
    load=$(grep '^RESULT' <<<"$load") || die "bench: e2e_load printed no result"
    sent=$(field sent "$load")
    b_wait_sql "SELECT count(*) - $before FROM deliveries WHERE channel = 'email' AND status IN ('sent', 'failed')" \
        "$(field accepted "$load")" 120 || true
    sleep 1
    b_kill "$sink"
    stamp=$(grep '^RESULT' "$B_RUN/logs/smtp-stamp.log") || die "bench: smtp_stamp printed no result"
    printf 'load %s\nsink %s\n' "$load" "$stamp" >>"$B_RUN/results.txt"
    printf '\n| end to end, %s/s offered for %s s, %s email worker(s) | figure |\n|---|---|\n' "$rate" "$secs" "$workers"
    printf '| sent by the load generator | %s in %s s = %s/s (202: %s, other: %s, failed: %s) |\n' \
        "$sent" "$(field seconds "$load")" "$(field rate "$load")" "$(field accepted "$load")" \
        "$(field other "$load")" "$(field failed "$load")"
    printf '| API 202 latency | p50 %s ms, p99 %s ms |\n' "$(field api_p50_ms "$load")" "$(field api_p99_ms "$load")"
    printf '| received by the SMTP sink | %s (%s/s; the sink takes %s/s from smtp-source in this run) |\n' \
        "$(field received "$stamp")" "$(field rate "$stamp")" "$ceil_rate"
    printf '| accepted -> SMTP server received | **p50 %s ms, p90 %s ms, p99 %s ms**, max %s ms |\n\n' \
        "$(field p50_ms "$stamp")" "$(field p90_ms "$stamp")" "$(field p99_ms "$stamp")" "$(field max_ms "$stamp")"
}

# The API worker count of the bench stack: the best of a sweep on the 2-core machine
# (docs/BENCHMARKS.md, Ingest); HERALD_API_WORKERS overrides it.
HR_BENCH_API_WORKERS=32

cmd_bench() {
    local which=${1:-ingest}
    [[ $# -gt 0 ]] && shift
    command -v wrk >/dev/null || die "bench: wrk is missing (scripts/herald deps)"
    case $which in
    ingest) ;;
    drain | e2e)
        [[ ${HERALD_SKIP_DEPS:-0} == 1 ]] || hr_bench_deps
        [[ -x /usr/sbin/smtp-sink && -x /usr/sbin/smtp-source ]] ||
            die "bench $which: postfix's smtp-sink/smtp-source are missing (package postfix)"
        ;;
    *) die "bench: unknown benchmark '$which' (ingest, drain [email|webhook], e2e)" ;;
    esac
    hr_configure_flags
    hr_build "$BUILD_DIR" "${CFG_FLAGS[@]}"
    local t
    for t in fcgi_hello e2e_load smtp_stamp; do
        [[ -x $BUILD_DIR/tests/bench/$t ]] || make -C "$BUILD_DIR" "tests/bench/$t" >/dev/null
    done
    B_API_WORKERS=${HERALD_API_WORKERS:-$HR_BENCH_API_WORKERS}
    B_SMTP_PORT=''
    if [[ $which != ingest ]]; then
        free_port B_SMTP_PORT
        B_SMTP_URL=smtp://127.0.0.1:$B_SMTP_PORT
    fi
    hr_bench_stack
    say "bench: stack in $B_RUN ($(nproc) cores; load tool and servers share them; $B_API_WORKERS API workers)"
    say "bench: load before the run: $(cut -d' ' -f1-3 /proc/loadavg); busiest processes (lifetime %CPU): $(ps -eo pcpu=,comm= --sort=-pcpu | head -n 6 | awk '{ printf "%s(%s%%) ", $2, $1 }')"
    case $which in
    ingest) bench_ingest ;;
    drain) bench_drain "$@" ;;
    e2e) bench_e2e ;;
    esac
}
