#!/usr/bin/env bash
# Load benchmark of the resident form's first page, gzip-encoded:
# GET /s/livability (the handler splices fresh tokens into a page gzipped
# once, src/web/precompressed.rs) against actix-web serving one saved copy
# of that same gzip body as static bytes, through the same middleware
# (/bench/static-page, only with the hidden --bench-static-page flag). The
# static route is what this server could do at best with the page, so the
# ratio says how much the form itself costs.
#
# It builds the release binary, starts the server on a SQLite database in a
# temporary folder, saves one gzip response of the form, restarts the
# server with that file as the static page, warms both routes up and runs
#   wrk -t2 -c64 -d15s --latency -H 'Accept-Encoding: gzip'
# on each, ROUNDS times in turn, then prints req/s, p50/p99 latency and the
# ratio of each round.
#
# GET requests have no rate limit (src/web/limits.rs limits submissions,
# codes, saves, resumes, sign-ins and the API); the limits are raised all
# the same, so a change there cannot make this benchmark measure 429s.
#
# Usage: benches/load/get_form.sh
# Environment: CIVICPULSE_BIN (a binary to use instead of building; one
#   without --bench-static-page, i.e. an older build, is measured without
#   the static comparison), PORT (18089), THREADS (2), CONNECTIONS (64),
#   DURATION (15s), ROUNDS (1), WARMUP (3s), RUST_LOG (the server's default:
#   one info line per request, as in service).
set -euo pipefail

cd "$(dirname "$0")/../.."
PORT=${PORT:-18089}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-15s}
ROUNDS=${ROUNDS:-1}
WARMUP=${WARMUP:-3s}
URL="http://127.0.0.1:$PORT"
FORM_PATH="/s/livability"
STATIC_PATH="/bench/static-page"

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 1; }

BIN=${CIVICPULSE_BIN:-}
if [ -z "$BIN" ]; then
    cargo build --release --bin civicpulse >&2
    BIN=target/release/civicpulse
fi

dir=$(mktemp -d)
server=""
stop_server() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        server=""
    fi
}
trap 'stop_server; rm -rf "$dir"' EXIT

limits="submit=1000000/h,code=1000000/h,save=1000000/h,resume=1000000/h,signin=1000000/h,api=1000000/h"

# Start the server with extra flags; false if it does not come up.
start_server() {
    "$BIN" serve --database "$dir/bench.db" --bind "127.0.0.1:$PORT" --rate-limit "$limits" "$@" \
        >>"$dir/server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do
        if curl -fs "$URL/health" >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$server" 2>/dev/null; then
            server=""
            return 1
        fi
        sleep 0.1
    done
    echo "the server did not answer on $URL within 10 s; its log:" >&2
    cat "$dir/server.log" >&2
    exit 1
}

start_server || { echo "the server did not start; its log:" >&2; cat "$dir/server.log" >&2; exit 1; }
curl -fs -H 'Accept-Encoding: gzip' -D "$dir/headers" -o "$dir/page.gz" "$URL$FORM_PATH"
if ! grep -qi '^content-encoding: *gzip' "$dir/headers"; then
    echo "GET $FORM_PATH did not answer with gzip:" >&2
    cat "$dir/headers" >&2
    exit 1
fi
plain_bytes=$(gzip -dc <"$dir/page.gz" | wc -c)
gzip_bytes=$(wc -c <"$dir/page.gz")
stop_server

with_static=1
if ! start_server --bench-static-page "$dir/page.gz"; then
    echo "note: $BIN has no --bench-static-page; measuring the form only" >&2
    with_static=0
    start_server || { cat "$dir/server.log" >&2; exit 1; }
fi
if [ "$with_static" = 1 ]; then
    curl -fs -H 'Accept-Encoding: gzip' -o "$dir/static.gz" "$URL$STATIC_PATH"
    cmp -s "$dir/page.gz" "$dir/static.gz" || { echo "the static route serves other bytes" >&2; exit 1; }
fi

# wrk's latency as milliseconds (it prints us, ms or s).
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
        else { printf "%s", v } }'
}

# Run wrk on a path; sets rps, p50, p99 and errors.
measure() {
    local path=$1 duration=$2 out="$dir/wrk.out"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency -H 'Accept-Encoding: gzip' "$URL$path" >"$out"
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    errors=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { n += 1 } END { print n + 0 }' "$out")
    if [ "$errors" != 0 ]; then
        echo "errors on $path:" >&2
        cat "$out" >&2
    fi
}

echo "page: $plain_bytes bytes, $gzip_bytes gzipped; wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, Accept-Encoding: gzip; $(nproc) cores"
measure "$FORM_PATH" "$WARMUP"
if [ "$with_static" = 1 ]; then
    measure "$STATIC_PATH" "$WARMUP"
fi
for round in $(seq 1 "$ROUNDS"); do
    measure "$FORM_PATH" "$DURATION"
    form_rps=$rps
    printf 'round %s  %-22s %10.0f req/s  p50 %7s ms  p99 %7s ms\n' "$round" "$FORM_PATH" "$rps" "$p50" "$p99"
    if [ "$with_static" = 1 ]; then
        measure "$STATIC_PATH" "$DURATION"
        printf 'round %s  %-22s %10.0f req/s  p50 %7s ms  p99 %7s ms\n' "$round" "static bytes" "$rps" "$p50" "$p99"
        awk -v a="$form_rps" -v b="$rps" -v r="$round" 'BEGIN { printf "round %s  form / static bytes: %.2f\n", r, a / b }'
    fi
done
