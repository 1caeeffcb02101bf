# test.sh: `scripts/herald test` — unit tests (plain and ASan/UBSan builds) and the
# integration tests against a throwaway stack on free ports.

# free_port VAR: a free TCP port below 32768 (outside the ephemeral range) into VAR,
# never one handed out before by this shell.
USED_PORTS=()
free_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 12000))
        [[ " ${USED_PORTS[*]} " == *" $p "* ]] && continue
        port_in_use "$p" && continue
        USED_PORTS+=("$p")
        printf -v "$1" '%s' "$p"
        return 0
    done
    die "test: no free port found"
}

hr_make_check() { # BUILD_DIR LABEL
    local bdir=$1 label=$2 t0
    t0=$(now_s)
    say "test: make check ($label)"
    if ! make -C "$bdir" -j"$(nproc)" check; then
        if [[ -f $bdir/test-suite.log ]]; then
            cat "$bdir/test-suite.log" >&2
        fi
        die "test: make check failed ($label)"
    fi
    # Like pytest's "no tests collected": a check that ran nothing is a failure.
    local total
    total=$(sed -n 's/^# TOTAL: *\([0-9]*\).*/\1/p' "$bdir/test-suite.log" 2>/dev/null | head -n1)
    if [[ ${total:-0} == 0 ]]; then
        die "test: make check ran no tests ($label; see tests/unit/Makefile.inc)"
    fi
    say "test: make check ($label) passed in $(elapsed "$t0")"
}

hr_test_unit() {
    hr_configure_flags
    hr_build "$BUILD_DIR" "${CFG_FLAGS[@]}"
    hr_make_check "$BUILD_DIR" plain

    local asan_dir
    asan_dir=$(abs_path "${HERALD_ASAN_BUILD_DIR:-$HERALD_ROOT/build-asan}")
    hr_configure_flags --with-sanitizer=address,undefined
    hr_build "$asan_dir" "${CFG_FLAGS[@]}"
    (
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
        export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
        hr_make_check "$asan_dir" "address,undefined"
    )
}

# State of the throwaway stack, for the cleanup trap.
T_RUN=''
T_SMTP_PID=''
T_PYTEST_PID=''
T_SIGNAL=''
T_FAILED=1

hr_test_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [[ -n $T_PYTEST_PID ]]; then
        # Interrupted. After a Ctrl-C (pytest got it too) let pytest print its summary;
        # otherwise end it now.
        local i
        for ((i = 0; i < 50; i++)); do
            [[ $T_SIGNAL == INT ]] && pid_alive "$T_PYTEST_PID" || break
            sleep 0.1
        done
        kill -TERM "$T_PYTEST_PID" 2>/dev/null
        pkill -TERM -P "$T_PYTEST_PID" 2>/dev/null
        wait "$T_PYTEST_PID" 2>/dev/null
    fi
    if [[ -n $T_RUN && -d $T_RUN ]]; then
        if ((T_FAILED)) && [[ -z $T_SIGNAL && -d $T_RUN/logs ]]; then
            local f
            say "test: failed; last 50 lines of each log:"
            for f in "$T_RUN"/logs/*.log; do
                [[ -s $f ]] && RUN_DIR=$T_RUN show_log "$f" 50
            done
        fi
        say "test: stopping the stack in $T_RUN"
        HERALD_RUN_DIR=$T_RUN "$HERALD_ROOT/scripts/herald" down >/dev/null 2>&1 ||
            warn "test: 'down' failed"
    fi
    if [[ -n $T_SMTP_PID ]]; then
        kill -TERM "$T_SMTP_PID" 2>/dev/null
        wait "$T_SMTP_PID" 2>/dev/null
    fi
    if [[ -n $T_RUN && -d $T_RUN ]]; then
        if [[ ${HERALD_KEEP_RUN:-0} == 1 ]]; then
            say "test: kept the run folder $T_RUN (HERALD_KEEP_RUN=1)"
        else
            if [[ -L $T_RUN/pg ]]; then
                local real
                real=$(readlink -f "$T_RUN/pg")
                [[ $real == /tmp/herald-pg-* ]] && rm -rf "$real"
            fi
            rm -rf "$T_RUN" "/tmp/herald-sock-$(short_hash "$T_RUN")"
        fi
    fi
    if ((rc == 0 && T_FAILED)); then
        rc=1
    fi
    exit "$rc"
}

hr_test_integration() {
    local t0
    t0=$(now_s)
    [[ -d $HERALD_ROOT/tests/integration ]] || die "test: no tests/integration folder"
    T_RUN=$(mktemp -d /tmp/herald-test.XXXXXX)
    trap hr_test_cleanup EXIT
    trap 'T_SIGNAL=INT; exit 130' INT
    trap 'T_SIGNAL=TERM; exit 143' TERM

    local http_port https_port pg_port redis_port smtp_port
    free_port http_port
    free_port https_port
    free_port pg_port
    free_port redis_port
    free_port smtp_port
    local rt_port
    free_port rt_port
    local maildir=$T_RUN/smtp-maildir
    mkdir -p "$T_RUN/logs" "$maildir"
    chmod o+x "$T_RUN"

    # In its own session: a Ctrl-C meant for pytest must not take the SMTP server down
    # under the tests still running; the cleanup trap stops it.
    setsid "$HERALD_ROOT/tests/integration/smtp_server.sh" "$smtp_port" "$maildir" \
        </dev/null >>"$T_RUN/logs/smtp.log" 2>&1 &
    T_SMTP_PID=$!
    wait_port "$smtp_port" 15 || {
        show_log "$T_RUN/logs/smtp.log" 20
        die "test: the SMTP server did not start on port $smtp_port"
    }
    say "test: SMTP server on 127.0.0.1:$smtp_port (pid $T_SMTP_PID), Maildir $maildir"

    # The stack: a separate scripts/herald process with only these settings. Leases,
    # timeouts and retry delays are short so the fault tests recover in seconds.
    HERALD_RUN_DIR=$T_RUN HERALD_HTTP_PORT=$http_port HERALD_HTTPS_PORT=$https_port \
        HERALD_RT_PORT=$rt_port \
        HERALD_PG_PORT=$pg_port \
        HERALD_REDIS_PORT=$redis_port HERALD_EMAIL_SMTP_URL=smtp://127.0.0.1:$smtp_port \
        HERALD_REDIS_PASSWORD="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" \
        HERALD_BUILD_DIR=$BUILD_DIR HERALD_SKIP_DEPS=1 HERALD_SKIP_BUILD=1 \
        HERALD_WORKER_LEASE_S=10 HERALD_SWEEPER_REQUEUE_AFTER_S=5 HERALD_EMAIL_TIMEOUT_MS=3000 \
        HERALD_WORKER_RETRY_BASE_MS=200 HERALD_WORKER_RETRY_CAP_MS=2000 \
        HERALD_WORKER_MAX_ATTEMPTS=40 HERALD_WORKER_CLAIM_IDLE_MS=5000 \
        HERALD_ROUTER_CLAIM_IDLE_MS=5000 \
        HERALD_PROVIDERS_PRIVATE_TARGETS=loopback HERALD_WORKER_HTTP_TIMEOUT_MS=2000 \
        HERALD_WORKER_BREAKER_COOLDOWN_MS=3000 HERALD_API_PUBLIC_URL=https://127.0.0.1:$https_port \
        HERALD_PROVIDERS_CA_FILE=$T_RUN/tls/ca.pem \
        HERALD_PASS_ENV="${HERALD_PASS_ENV:-} HERALD_WORKER_LEASE_S HERALD_SWEEPER_REQUEUE_AFTER_S \
HERALD_EMAIL_TIMEOUT_MS HERALD_WORKER_RETRY_BASE_MS HERALD_WORKER_RETRY_CAP_MS \
HERALD_WORKER_MAX_ATTEMPTS HERALD_WORKER_CLAIM_IDLE_MS HERALD_ROUTER_CLAIM_IDLE_MS \
HERALD_PROVIDERS_PRIVATE_TARGETS HERALD_WORKER_HTTP_TIMEOUT_MS HERALD_WORKER_BREAKER_COOLDOWN_MS \
HERALD_API_PUBLIC_URL HERALD_PROVIDERS_CA_FILE" \
        "$HERALD_ROOT/scripts/herald" up || die "test: 'up' failed"
    say "test: stack up in $(elapsed "$t0")"

    local key suite
    key=$(RUN_DIR=$T_RUN demo_key) || die "test: no API key in $T_RUN/demo.json"
    for suite in "${T_SUITES[@]}"; do
        hr_pytest "$suite" "$key" "$maildir" "$smtp_port"
    done
    # With sanitizer builds (HERALD_BIN_DIR=build-asan) a report in any log fails the run.
    local bad
    bad=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T_RUN"/logs/*.log 2>/dev/null || true)
    if [[ -n $bad ]]; then
        die "test: sanitizer reports in: ${bad//$'\n'/ }"
    fi
    T_FAILED=0
    say "test: ${T_SUITES[*]} passed in $(elapsed "$t0")"
}

# hr_pytest SUITE KEY MAILDIR SMTP_PORT: runs pytest on tests/SUITE against the stack.
hr_pytest() {
    local suite=$1 key=$2 maildir=$3 smtp_port=$4 rc=0 t0
    t0=$(now_s)
    (
        # shellcheck disable=SC1091
        . "$T_RUN/env"
        export HERALD_SMTP_MAILDIR=$maildir HERALD_SMTP_PORT=$smtp_port \
            HERALD_API_KEY=$key HERALD_SCRIPTS=$HERALD_ROOT/scripts/herald \
            HERALD_ROOT=$HERALD_ROOT PYTHONDONTWRITEBYTECODE=1
        cd "$HERALD_ROOT" || exit 1
        say "test: pytest tests/$suite ${PYTEST_ARGS[*]}"
        # A background job starts with SIGINT ignored; give pytest the default back so
        # a Ctrl-C still ends it with its summary.
        exec "$HR_PY" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.executable, [sys.executable, "-m", "pytest"] + sys.argv[1:])' \
            -v -p no:cacheprovider "tests/$suite" "${PYTEST_ARGS[@]}" </dev/null
    ) &
    # In the background so that a SIGTERM/SIGINT to this script runs the trap at once
    # (bash defers traps while a foreground command runs).
    T_PYTEST_PID=$!
    wait "$T_PYTEST_PID" || rc=$?
    T_PYTEST_PID=''
    if ((rc == 5)); then
        warn "test: pytest collected no tests in tests/$suite"
    fi
    if ((rc != 0)); then
        die "test: tests/$suite failed (pytest exit $rc)"
    fi
    say "test: tests/$suite passed in $(elapsed "$t0")"
}

cmd_test() {
    local unit=1 integration=1
    T_SUITES=(integration faults)
    PYTEST_ARGS=()
    while [[ $# -gt 0 ]]; do
        case $1 in
        --unit) integration=0 ;;
        --integration) unit=0; T_SUITES=(integration) ;;
        --faults) unit=0; T_SUITES=(faults) ;;
        --) shift; PYTEST_ARGS=("$@"); break ;;
        *) die "test: unknown option '$1' (--unit, --integration, --faults, -- PYTEST_ARGS...)" ;;
        esac
        shift
    done
    ((unit || integration)) || die "test: --unit excludes --integration and --faults"
    local t0
    t0=$(now_s)
    if [[ ${HERALD_SKIP_DEPS:-0} != 1 ]]; then
        cmd_deps
    fi
    if ((unit)); then
        hr_test_unit
    else
        hr_configure_flags
        hr_build "$BUILD_DIR" "${CFG_FLAGS[@]}"
    fi
    if ((integration)); then
        # Sets an EXIT trap that stops the stack and the SMTP server, whatever happens.
        hr_test_integration
    fi
    say "test: all passed in $(elapsed "$t0")"
}
