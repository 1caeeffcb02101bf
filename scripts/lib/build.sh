# build.sh: `scripts/herald build` — autoreconf when needed, configure out of tree when
# needed, make.

# True when configure is missing or older than one of the autotools inputs.
hr_need_autoreconf() {
    local root=$HERALD_ROOT
    [[ -x $root/configure ]] || return 0
    local newer
    newer=$(find "$root" \
        \( -path "$root/.git" -o -path "$root/build" -o -path "$root/build-*" \
        -o -path "$root/run" -o -path "$root/autom4te.cache" \) -prune -o \
        \( -name configure.ac -o -name Makefile.am -o -name '*.inc' \) \
        -newer "$root/configure" -print -quit 2>/dev/null)
    [[ -n $newer ]]
}

# hr_build BUILD_DIR [CONFIGURE_FLAGS...]: configure (if needed) and make in BUILD_DIR.
hr_build() {
    local bdir=$1
    shift
    local flags=("$@") t0
    t0=$(now_s)
    if hr_need_autoreconf; then
        say "build: autoreconf -fi"
        (cd "$HERALD_ROOT" && autoreconf -fi) || die "build: autoreconf failed"
    fi
    if [[ -f $HERALD_ROOT/config.status ]]; then
        die "build: the source tree itself is configured ($HERALD_ROOT/config.status); run 'make distclean' there first, builds go to $bdir"
    fi
    mkdir -p "$bdir"
    local want="${flags[*]}" have=''
    [[ -f $bdir/.herald-configure-flags ]] && have=$(<"$bdir/.herald-configure-flags")
    if [[ ! -f $bdir/config.status || ! -f $bdir/Makefile || $want != "$have" ]]; then
        say "build: configure ${flags[*]} (in ${bdir})"
        rm -f "$bdir/.herald-configure-flags"
        if ! (cd "$bdir" && "$HERALD_ROOT/configure" "${flags[@]}" >configure.out 2>&1); then
            tail -n 40 "$bdir/configure.out" >&2
            die "build: configure failed (full output: $bdir/configure.out, $bdir/config.log)"
        fi
        printf '%s' "$want" >"$bdir/.herald-configure-flags"
    fi
    say "build: make -j$(nproc) (in ${bdir})"
    make -C "$bdir" -j"$(nproc)" || die "build: make failed in $bdir"
    say "build: done in $(elapsed "$t0")"
}

hr_configure_flags() { # extra flags... -> CFG_FLAGS
    CFG_FLAGS=(--enable-werror "$@")
    if [[ -n ${HERALD_CONFIGURE_FLAGS:-} ]]; then
        # shellcheck disable=SC2206 # split on purpose: a list of flags
        CFG_FLAGS+=($HERALD_CONFIGURE_FLAGS)
    fi
}

cmd_build() {
    hr_configure_flags "$@"
    hr_build "$BUILD_DIR" "${CFG_FLAGS[@]}"
}
