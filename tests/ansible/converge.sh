#!/usr/bin/env bash
# tests/ansible/converge.sh: run ansible/site.yml (inventories/single) for real against
# a fresh Debian 12 minbase chroot (community.general.chroot connection, services not
# started: no systemd in a chroot), check what it installed, then run it again and
# require changed=0.
#
# Root only (debootstrap, chroot, mounts). The debootstrap result is cached per day
# and the downloaded .deb files are kept between runs, so a repeated run does not
# download again.
#
# Environment:
#   HERALD_ANSIBLE_WORK   cache and work folder [/tmp/herald-ansible]
#   HERALD_DEBIAN_MIRROR  Debian mirror for debootstrap [http://deb.debian.org/debian]
#   HERALD_KEEP_CHROOT=1  keep the chroot (and its mounts are still removed)
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd -P)
WORK=${HERALD_ANSIBLE_WORK:-/tmp/herald-ansible}
MIRROR=${HERALD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
BASE=$WORK/base-$SUITE-$(date -u +%Y%m%d)
APT_CACHE=$WORK/apt-archives
CH=$WORK/chroot-$$
RUN_LOG=$WORK/converge-$$
PG_TEST_PORT=${HERALD_ANSIBLE_PG_PORT:-25432}

say() { printf 'converge: %s\n' "$*" >&2; }
die() {
    printf 'converge: FAIL: %s\n' "$*" >&2
    exit 1
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

((EUID == 0)) || die "run as root (debootstrap, chroot and mounts need it)"
for t in ansible-playbook debootstrap chroot mount; do
    command -v "$t" >/dev/null || die "$t is missing (scripts/herald test-ansible installs it)"
done
mkdir -p "$WORK" "$APT_CACHE/partial"
find "$WORK" -maxdepth 1 -name "converge-*" -mmin +720 -exec rm -rf {} + 2>/dev/null || true
mkdir -p "$RUN_LOG"
T_ALL=$(now)

# ---- cached base system ------------------------------------------------------------
# One debootstrap per day (python3 deliberately left out: site.yml installs it with
# ansible.builtin.raw, as on a real minimal host).
exec 8>"$WORK/.base.lock"
flock -w 600 8 || die "another converge holds $WORK/.base.lock"
if [[ ! -f $BASE/.complete ]]; then
    T=$(now)
    rm -rf "$BASE.tmp"
    say "debootstrap --variant=minbase $SUITE into $BASE (cached for today)"
    debootstrap --variant=minbase "$SUITE" "$BASE.tmp" "$MIRROR" >"$RUN_LOG/debootstrap.log" 2>&1 ||
        {
            tail -n 30 "$RUN_LOG/debootstrap.log" >&2
            die "debootstrap failed (log: $RUN_LOG/debootstrap.log)"
        }
    touch "$BASE.tmp/.complete"
    mv "$BASE.tmp" "$BASE"
    say "debootstrap: $(secs "$T") s"
fi
# Older days' bases go.
for old in "$WORK"/base-"$SUITE"-*; do
    [[ -d $old && $old != "$BASE" ]] && rm -rf "$old"
done
flock -u 8

# ---- fresh chroot from the base --------------------------------------------------------
MOUNTS=()
cleanup() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount -l "${MOUNTS[$i]}" 2>/dev/null || true
    done
    if [[ ${HERALD_KEEP_CHROOT:-0} == 1 ]]; then
        say "chroot kept: $CH"
    else
        # Only after every mount is gone (rm must never reach /dev or the apt cache).
        if ! grep -q " $CH/" /proc/mounts; then
            rm -rf "$CH"
        fi
    fi
}
trap cleanup EXIT
T=$(now)
cp -a "$BASE" "$CH"
rm -f "$CH/.complete"
cp /etc/resolv.conf "$CH/etc/resolv.conf"
# No service may start inside the chroot (it shares this machine's network).
printf '#!/bin/sh\nexit 101\n' >"$CH/usr/sbin/policy-rc.d"
chmod 0755 "$CH/usr/sbin/policy-rc.d"
mount -t proc proc "$CH/proc" && MOUNTS+=("$CH/proc")
mount --bind /dev "$CH/dev" && MOUNTS+=("$CH/dev")
mount --bind /dev/pts "$CH/dev/pts" && MOUNTS+=("$CH/dev/pts")
mount --bind "$APT_CACHE" "$CH/var/cache/apt/archives" && MOUNTS+=("$CH/var/cache/apt/archives")
say "chroot ready in $(secs "$T") s: $CH"

# ---- a snapshot of the source tree ---------------------------------------------------------
# Both runs build the same tree even while the checkout is being edited (the second run
# would otherwise rebuild, rightly, and not be changed=0).
mkdir -p "$RUN_LOG/src"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
    tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$RUN_LOG/src"
[[ -f $RUN_LOG/src/configure.ac ]] || die "could not snapshot the source tree into $RUN_LOG/src"

# ---- inventory and secrets of the test ------------------------------------------------
# The real inventories/single, with the host reached through the chroot connection
# (inventory host vars beat its group_vars; extra vars would also redirect the
# controller-side tasks delegated to localhost).
cat >"$RUN_LOG/chroot-inventory.yml" <<EOF
all:
  hosts:
    herald1:
      ansible_connection: community.general.chroot
      ansible_host: $CH
EOF
(
    umask 077
    cat >"$RUN_LOG/test-vars.yml" <<EOF
herald_manage_services: false
ansible_become: false
postgres_port: $PG_TEST_PORT
herald_source_archive: $RUN_LOG/herald-src.tar.gz
herald_source_dir: $RUN_LOG/src
herald_nginx_template: $RUN_LOG/src/nginx/herald.conf.in
vault_herald_master_key: "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
vault_postgres_password: "$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
vault_redis_password: "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
EOF
)

run_playbook() { # N -> RUN_LOG/run-N.log
    local n=$1 t rc=0
    t=$(now)
    (cd "$ROOT/ansible" && ANSIBLE_CONFIG=$ROOT/ansible/ansible.cfg ANSIBLE_NOCOLOR=1 \
        ANSIBLE_FORCE_COLOR=0 ansible-playbook -i inventories/single \
        -i "$RUN_LOG/chroot-inventory.yml" -e @"$RUN_LOG/test-vars.yml" site.yml) \
        >"$RUN_LOG/run-$n.log" 2>&1 || rc=$?
    RUN_SECS=$(secs "$t")
    if ((rc != 0)); then
        tail -n 60 "$RUN_LOG/run-$n.log" >&2
        die "ansible-playbook run $n failed (rc $rc; log: $RUN_LOG/run-$n.log)"
    fi
    RECAP=$(grep -E '^herald1 +:' "$RUN_LOG/run-$n.log" | tail -n1)
    say "run $n: $RUN_SECS s: $RECAP"
}

in_chroot() { chroot "$CH" "$@"; }

# ---- first run: converge -------------------------------------------------------------------
run_playbook 1
T_RUN1=$RUN_SECS

# ---- what it left ---------------------------------------------------------------------------
fails=0
check() { # DESCRIPTION COMMAND...
    local d=$1 out
    shift
    if out=$("$@" 2>&1); then
        say "ok: $d"
    else
        say "not ok: $d"
        printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /' >&2
        fails=$((fails + 1))
    fi
}
for b in herald-api herald-router herald-worker herald-sweeper herald-admin; do
    check "/usr/bin/$b installed" test -x "$CH/usr/bin/$b"
done
check "herald-api --help exits 0" in_chroot /usr/bin/herald-api --help
check "herald-admin sample-config exits 0" in_chroot /usr/bin/herald-admin sample-config
check "migrations installed in /usr/share/herald/sql" \
    bash -c "ls '$CH'/usr/share/herald/sql/*.sql >/dev/null"
check "master key file: 64 hex, herald:herald 0600" bash -c "
    [[ \$(chroot '$CH' stat -c '%U:%G %a' /etc/herald/master.key) == 'herald:herald 600' ]] &&
    grep -qxE '[0-9a-f]{64}' '$CH/etc/herald/master.key'"
check "herald.conf: root:herald 0640" bash -c "
    [[ \$(chroot '$CH' stat -c '%U:%G %a' /etc/herald/herald.conf) == 'root:herald 640' ]]"
check "redis.conf: appendonly yes, appendfsync always" bash -c "
    grep -qx 'appendonly yes' '$CH/etc/redis/redis.conf' &&
    grep -qx 'appendfsync always' '$CH/etc/redis/redis.conf'"
check "systemd units written (api, router, worker@, sweeper)" bash -c "
    cd '$CH/etc/systemd/system' && grep -q '^Restart=always' herald-api.service herald-router.service \
        herald-worker@.service herald-sweeper.service"
if [[ -x $CH/usr/bin/herald-realtime ]]; then
    check "herald-realtime built: its unit is written" grep -q '^Restart=always' \
        "$CH/etc/systemd/system/herald-realtime.service"
fi
check "nginx -t of the rendered config" in_chroot nginx -t -q -p /var/lib/herald/nginx/ \
    -c conf/nginx.conf -e /var/log/herald/nginx/nginx-error.log

# herald.conf loads: start the chroot's PostgreSQL (on a test port), run the postgres
# role's tasks that need a server (role and database, twice: the second must change
# nothing), and migrate through herald.conf's conninfo (TCP, scram password, pg_hba).
T=$(now)
pg_started=0
if in_chroot pg_ctlcluster 15 main start >"$RUN_LOG/pg-start.log" 2>&1; then
    pg_started=1
    for n in 1 2; do
        if (cd "$ROOT/ansible" && ANSIBLE_CONFIG=$ROOT/ansible/ansible.cfg ANSIBLE_NOCOLOR=1 \
            ansible-playbook -i inventories/single -i "$RUN_LOG/chroot-inventory.yml" \
            -e @"$RUN_LOG/test-vars.yml" "$ROOT/tests/ansible/db-objects.yml") \
            >"$RUN_LOG/db-objects-$n.log" 2>&1; then
            recap=$(grep -E '^herald1 +:' "$RUN_LOG/db-objects-$n.log" | tail -n1)
            say "ok: postgres role's objects.yml, run $n: $recap"
            if ((n == 2)) && [[ ! $recap =~ changed=0\  ]]; then
                say "not ok: objects.yml changed something on its second run"
                fails=$((fails + 1))
            fi
        else
            tail -n 30 "$RUN_LOG/db-objects-$n.log" >&2
            say "not ok: postgres role's objects.yml, run $n (log: $RUN_LOG/db-objects-$n.log)"
            fails=$((fails + 1))
        fi
    done
    check "herald-admin -c /etc/herald/herald.conf migrate (as user herald)" \
        in_chroot runuser -u herald -- /usr/bin/herald-admin -c /etc/herald/herald.conf migrate
    check "migrate again applies nothing" bash -c "
        chroot '$CH' runuser -u herald -- /usr/bin/herald-admin -c /etc/herald/herald.conf migrate |
        grep -q '\"applied\": *\[\]'"
    in_chroot pg_ctlcluster 15 main stop -m fast >>"$RUN_LOG/pg-start.log" 2>&1 || true
else
    # Without a server the config is still loaded: the error must be the connection's.
    check "herald.conf loads (herald-admin reaches the connection step)" bash -c "
        out=\$(chroot '$CH' /usr/bin/herald-admin -c /etc/herald/herald.conf migrate 2>&1); rc=\$?
        printf '%s\n' \"\$out\"; [[ \$rc != 0 && \$out == *'herald-admin: postgres:'* ]]"
fi
say "database check: $(secs "$T") s (server started: $pg_started)"

# ---- second run: idempotency ---------------------------------------------------------------
run_playbook 2
T_RUN2=$RUN_SECS
if [[ $RECAP =~ changed=0\  && $RECAP =~ failed=0\  ]]; then
    say "ok: second run changed nothing"
else
    say "not ok: second run is not idempotent: $RECAP"
    grep -E '^changed:' -B2 "$RUN_LOG/run-2.log" | grep -E '^TASK|^changed' | sed 's/^/    /' >&2 || true
    fails=$((fails + 1))
fi

say "times: first run ${T_RUN1} s, second run ${T_RUN2} s, total $(secs "$T_ALL") s (logs: $RUN_LOG)"
((fails == 0)) || die "$fails check(s) failed"
say "PASS"
