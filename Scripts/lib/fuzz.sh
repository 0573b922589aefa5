# Sourced by the fuzz scripts that pick a parser by the input's first byte (Scripts/fuzz-webauthn, fuzz-wire): they
# build a libFuzzer target with AddressSanitizer from the NIO-free source files, write the seeds the target makes,
# run it, and print one summary line. Everything goes under Fuzz/.out/NAME/ (build/, corpus/, crashes/, fuzz.log);
# the corpus is kept, so a later run resumes from it.

# fuzz_begin NAME [SECONDS] [libFuzzer args...]: checks the arguments; sets root, s (Sources), out, build, flags and
# fuzz_args (what goes to libFuzzer).
fuzz_begin() {
    fuzz_name="$1"
    shift
    seconds="${1:-60}"
    [[ $# -gt 0 ]] && shift
    if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -lt 1 ]]; then
        echo "usage: $0 [SECONDS] [libFuzzer args...]" >&2
        exit 2
    fi
    fuzz_args=("$@")
    root="$(cd "$(dirname "${BASH_SOURCE[1]}")/.." && pwd)"
    s="$root/Sources"
    out="$root/Fuzz/.out/$fuzz_name"
    build="$out/build"
    mkdir -p "$build/modules" "$out/corpus" "$out/crashes"
    flags=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6
        -I "$root/Sources/CCBOR" -I "$root/Sources/COpenSSL" -I "$build/modules")
    echo "fuzz-$fuzz_name: building into $build" >&2
}

fuzz_quiet() { "$@" 2> >(grep -v "Cannot export local symbol" >&2); }

# fuzz_lib MODULE FILES...: a static library and its module.
fuzz_lib() {
    local name="$1"
    shift
    fuzz_quiet swiftc "${flags[@]}" -module-name "$name" -emit-library -static -emit-module \
        -emit-module-path "$build/modules/$name.swiftmodule" -o "$build/lib$name.a" "$@"
}

# fuzz_target FILES... [-L/-l flags]: the binary $build/NAME-fuzz from Fuzz/Common/FuzzSupport.swift,
# SelectorEntry.swift and FILES; then the seeds it makes.
fuzz_target() {
    fuzz_quiet swiftc "${flags[@]}" -module-name FuzzTarget -o "$build/$fuzz_name-fuzz" \
        "$root/Fuzz/Common/FuzzSupport.swift" "$root/Fuzz/Common/SelectorEntry.swift" "$@"
    CLOISTER_FUZZ_SEEDS="$out/corpus" "$build/$fuzz_name-fuzz" >&2
}

# fuzz_run MAX_LEN: runs for $seconds (or fewer runs with -runs=N), prints the summary line, and fails on a crash.
fuzz_run() {
    local start status elapsed runs rate corpus crashes
    start=$(date +%s)
    set +e
    SWIFT_BACKTRACE=enable=no "$build/$fuzz_name-fuzz" -max_total_time="$seconds" -max_len="$1" -print_final_stats=1 \
        -artifact_prefix="$out/crashes/" "${fuzz_args[@]}" "$out/corpus" >"$out/fuzz.log" 2>&1
    status=$?
    set -e
    elapsed=$(($(date +%s) - start))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz.log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/fuzz.log" | tail -n 1)
    if [[ -z "$runs" ]]; then  # stopped on a crash: the last progress line
        runs=$(grep -E '^#[0-9]+' "$out/fuzz.log" | tail -n 1 | sed -n 's/^#\([0-9]*\).*/\1/p')
        rate=$(grep -E '^#[0-9]+' "$out/fuzz.log" | tail -n 1 | sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p')
    fi
    corpus=$(find "$out/corpus" -maxdepth 1 -type f | wc -l)
    crashes=$(find "$out/crashes" -maxdepth 1 -type f -newermt "@$start" | wc -l)
    if [[ $status -ne 0 && $crashes -eq 0 ]]; then crashes=1; fi
    echo "fuzz-$fuzz_name: runs=${runs:-0} seconds=$elapsed crashes=$crashes status=$status exec/s=${rate:-0} corpus=$corpus (log: $out/fuzz.log)"
    [[ $crashes -eq 0 ]]
}
