# fuzz.sh: `scripts/herald fuzz [SECONDS]` — the Mustache engine's libFuzzer driver
# (tests/fuzz/fuzz_tpl, built with clang --enable-fuzzing in its own build folder)
# for SECONDS (default 180), seeded with every template and partial of the official
# Mustache spec. A crash, leak or sanitizer report fails it; the reproducer is kept.

# hr_fuzz_seed DIR: one file per template and partial of the spec's JSON files.
hr_fuzz_seed() {
    local dir=$1 spec
    spec=$(hr_mustache_spec_dir)
    mkdir -p "$dir"
    "$HR_PY" - "$spec" "$dir" <<'EOF'
import glob, hashlib, json, os, sys
spec, out = sys.argv[1], sys.argv[2]
for path in glob.glob(os.path.join(spec, "*.json")):
    with open(path) as f:
        doc = json.load(f)
    for test in doc.get("tests", []):
        for src in [test["template"], *(test.get("partials") or {}).values()]:
            data = src.encode()
            with open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb") as f:
                f.write(data)
EOF
}

# The spec folder configure uses by default (../shared/spec/mustache beside the
# checkout), or HERALD_MUSTACHE_SPEC.
hr_mustache_spec_dir() {
    local d=${HERALD_MUSTACHE_SPEC:-$HERALD_ROOT/../shared/spec/mustache}
    [[ -d $d ]] || die "fuzz: no Mustache spec in $d (set HERALD_MUSTACHE_SPEC)"
    abs_path "$d"
}

cmd_fuzz() {
    local secs=${1:-180}
    [[ $secs =~ ^[0-9]+$ ]] || die "usage: scripts/herald fuzz [SECONDS]"
    local need=()
    hr_missing_of need clang
    ((${#need[@]} == 0)) || hr_apt_install "${need[@]}"
    local bdir runs t0
    bdir=$(abs_path "${HERALD_FUZZ_BUILD_DIR:-$HERALD_ROOT/build-fuzz}")
    hr_configure_flags CC=clang --enable-fuzzing
    hr_build "$bdir" "${CFG_FLAGS[@]}"
    make -C "$bdir" tests/fuzz/fuzz_tpl >/dev/null || die "fuzz: building the driver failed"
    local work=$bdir/fuzz-tpl
    mkdir -p "$work/corpus" "$work/artifacts"
    hr_fuzz_seed "$work/corpus"
    say "fuzz: tpl for ${secs}s from $(find "$work/corpus" -type f | wc -l) inputs"
    t0=$(now_s)
    if ! (cd "$work" && "$bdir/tests/fuzz/fuzz_tpl" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/" corpus >fuzz.log 2>&1); then
        tail -n 40 "$work/fuzz.log" >&2
        die "fuzz: the driver found a problem (reproducer in $work/artifacts/)"
    fi
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/fuzz.log")
    say "fuzz: clean: ${runs:-?} runs in $(elapsed "$t0"), corpus $(find "$work/corpus" -type f | wc -l) inputs (log $work/fuzz.log)"
}
