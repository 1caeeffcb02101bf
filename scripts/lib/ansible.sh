# ansible.sh: `scripts/herald test-ansible` — checks of the Ansible provisioning in
# ansible/: ansible-lint, --syntax-check of both inventories, the scaled layout's nginx
# config rendered and tested with nginx -t (tests/ansible/render-scaled.yml), then
# (unless --lint) the converge test tests/ansible/converge.sh (site.yml for real against
# a Debian 12 chroot, then a second run that must change nothing).

HR_ANSIBLE_PACKAGES=(ansible ansible-lint debootstrap)

# Install ansible, ansible-lint and debootstrap when missing (only those missing).
hr_ansible_deps() {
    local p st missing=()
    for p in "${HR_ANSIBLE_PACKAGES[@]}"; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $st == "install ok installed" ]] || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    ((EUID == 0)) || die "test-ansible: missing ${missing[*]}; run as root to install them"
    say "test-ansible: installing ${missing[*]}"
    local apt_opts=(-q -o Dpkg::Use-Pty=0 -o APT::Color=0)
    DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update >/dev/null ||
        die "test-ansible: apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y --no-install-recommends \
        "${missing[@]}" </dev/null || die "test-ansible: apt-get install ${missing[*]} failed"
}

# ansible-lint and --syntax-check of site.yml with each inventory.
hr_ansible_lint() {
    local dir=$HERALD_ROOT/ansible inv t0
    t0=$(now_s)
    for inv in single scaled; do
        (cd "$dir" && ANSIBLE_CONFIG=$dir/ansible.cfg \
            ansible-playbook -i "inventories/$inv" site.yml --syntax-check >/dev/null) ||
            die "test-ansible: syntax check failed with inventories/$inv"
        say "test-ansible: syntax check ok (inventories/$inv)"
    done
    (cd "$dir" && ANSIBLE_CONFIG=$dir/ansible.cfg ansible-lint --nocolor -q . \
        ../tests/ansible/db-objects.yml ../tests/ansible/render-scaled.yml) ||
        die "test-ansible: ansible-lint found problems"
    say "test-ansible: ansible-lint clean"
    # The scaled layout's front nginx config, rendered here and checked with nginx -t.
    if command -v nginx >/dev/null && command -v openssl >/dev/null; then
        local tmp rc=0
        tmp=$(mktemp -d /tmp/herald-render.XXXXXX)
        (cd "$dir" && ANSIBLE_CONFIG=$dir/ansible.cfg ansible-playbook -i inventories/scaled \
            -e herald_render_dir="$tmp" ../tests/ansible/render-scaled.yml >"$tmp.log" 2>&1) || rc=$?
        if ((rc != 0)); then
            tail -n 30 "$tmp.log" >&2
            rm -rf "$tmp"
            die "test-ansible: the scaled layout's nginx config does not render or pass nginx -t (log: $tmp.log)"
        fi
        rm -rf "$tmp" "$tmp.log"
        say "test-ansible: scaled front nginx config renders and passes nginx -t"
    else
        warn "test-ansible: nginx or openssl missing here: scaled nginx render check skipped"
    fi
    say "test-ansible: lint, syntax and render checks in $(elapsed "$t0")"
}

cmd_test_ansible() {
    local lint_only=0
    while [[ $# -gt 0 ]]; do
        case $1 in
        --lint) lint_only=1 ;;
        *) die "usage: scripts/herald test-ansible [--lint]" ;;
        esac
        shift
    done
    hr_ansible_deps
    hr_ansible_lint
    ((lint_only)) && return 0
    local t0
    t0=$(now_s)
    "$HERALD_ROOT/tests/ansible/converge.sh" || die "test-ansible: converge test failed"
    say "test-ansible: converge test passed in $(elapsed "$t0")"
}
