#!/usr/bin/env bash
# Screenshots of a survey designer's whole path through civicpulse, at phone
# (390 px) and desktop (1280 px) widths. See README.md next to this script.
#
#   docs/screenshots/capture.sh            # from the repository root, after cargo build [--release]
#
# Environment: CIVICPULSE_BIN (default target/release/civicpulse or
# target/debug/civicpulse, the newer when both exist), CHROMIUM (default /usr/bin/chromium),
# KEEP_WORK=1 to keep the temporary folder with every saved HTML page.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [[ -n ${CIVICPULSE_BIN:-} ]]; then
    BIN=$CIVICPULSE_BIN
elif [[ -x $ROOT/target/release/civicpulse && -x $ROOT/target/debug/civicpulse ]]; then
    # Both built: the more recent one (a stale release build lacks new pages).
    if [[ $ROOT/target/debug/civicpulse -nt $ROOT/target/release/civicpulse ]]; then
        BIN=$ROOT/target/debug/civicpulse
    else
        BIN=$ROOT/target/release/civicpulse
    fi
elif [[ -x $ROOT/target/release/civicpulse ]]; then
    BIN=$ROOT/target/release/civicpulse
elif [[ -x $ROOT/target/debug/civicpulse ]]; then
    BIN=$ROOT/target/debug/civicpulse
else
    echo "no binary: run cargo build --release first" >&2
    exit 1
fi
FORMTOOL=(python3 "$HERE/formtool.py")
echo "binary: $BIN"

WORK=$(mktemp -d)
SITE=$WORK/site          # saved staff pages + a copy of static/, served for Chromium
PAGES=$WORK/pages        # every response body, in order
JAR=$WORK/cookies.txt
mkdir -p "$SITE" "$PAGES"
cp -r "$ROOT/static" "$SITE/static"
SERVER_PID=
STATIC_PID=

cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    [[ -n $STATIC_PID ]] && kill "$STATIC_PID" 2>/dev/null && wait "$STATIC_PID" 2>/dev/null || true
    if [[ ${KEEP_WORK:-} == 1 ]]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

fail() {
    echo "capture.sh: $*" >&2
    exit 1
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for() { # URL
    for _ in $(seq 100); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    fail "nothing answers at $1"
}

# --- server with a fresh database and one designer -------------------------

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
DB=$WORK/civicpulse.db
USERNAME=dana
PASSWORD='harbour lights 2027'
cd "$WORK" # no survey-defs/ here: the server uses the built-in survey
printf '%s\n' "$PASSWORD" | "$BIN" user add "$USERNAME" --role designer --database "$DB" >/dev/null
RUST_LOG=warn "$BIN" serve --bind "127.0.0.1:$PORT" --database "$DB" --workers 2 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_for "$BASE/login"

STATIC_PORT=$(free_port)
python3 -m http.server "$STATIC_PORT" --bind 127.0.0.1 --directory "$SITE" >"$WORK/static.log" 2>&1 &
STATIC_PID=$!
wait_for "http://127.0.0.1:$STATIC_PORT/static/style.css"

# --- HTTP, as a browser ------------------------------------------------------

LAST= # file holding the last response body
LAST_LOCATION=

# request WANT_STATUS NAME METHOD PATH [BODY_FILE]: one request with the
# cookie jar, no redirects followed; the body is saved as pages/NAME.html.
request() {
    local want=$1 name=$2 method=$3 path=$4 body=${5:-}
    local out=$PAGES/$name.html
    local args=(-sS -o "$out" -b "$JAR" -c "$JAR" -D "$PAGES/$name.headers"
        -w '%{http_code}' -H 'Accept-Language: en')
    if [[ $method == POST ]]; then
        args+=(-H 'Content-Type: application/x-www-form-urlencoded' --data-binary "@$body")
    fi
    local code
    code=$(curl "${args[@]}" "$BASE$path") || fail "$method $path: curl failed"
    if [[ $code != "$want" ]]; then
        echo "---- $method $path answered $code, wanted $want:" >&2
        head -c 3000 "$out" >&2 || true
        fail "$method $path: HTTP $code (wanted $want)"
    fi
    LAST=$out
    LAST_LOCATION=$(tr -d '\r' <"$PAGES/$name.headers" | sed -n 's/^[Ll]ocation: //p' | tail -n 1)
    echo "  $method $path -> $code${LAST_LOCATION:+ ($LAST_LOCATION)}"
}

expect_location() { # PREFIX
    [[ $LAST_LOCATION == "$1"* ]] || fail "redirected to '$LAST_LOCATION', wanted $1…"
}

expect_text() { # TEXT [FILE]
    grep -qF -- "$1" "${2:-$LAST}" || fail "'$1' not in ${2:-$LAST}"
}

# Copy a saved page into the static site, to screenshot it.
publish_page() { # NAME
    cp "$PAGES/$1.html" "$SITE/$1.html"
    echo "http://127.0.0.1:$STATIC_PORT/$1.html"
}

shot() { # FILE.png WIDTH HEIGHT URL
    local png=$OUT/$1 profile
    profile=$(mktemp -d)
    timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
        --user-data-dir="$profile" --screenshot="$png" --window-size="$2,$3" "$4" \
        >"$WORK/chromium.log" 2>&1 || { cat "$WORK/chromium.log" >&2; fail "chromium failed for $1"; }
    rm -rf "$profile"
    [[ -s $png ]] || fail "no $png"
    echo "  -> docs/screenshots/$1 (${2}x$3)"
}

rm -f "$OUT"/[0-9][0-9]-*.png

# --- 0. one resident answers the published v1 (so counts show both versions)

echo "0. a resident answers v1"
request 200 00-resident-v1 GET "/s/livability?lang=en"
expect_text 'name="_v" value="1"'
"${FORMTOOL[@]}" answer "$LAST" >"$WORK/answer-v1.txt"
request 303 00-resident-v1-sent POST /s/livability "$WORK/answer-v1.txt"
expect_location /s/livability/thanks

# --- 1. sign in --------------------------------------------------------------

echo "1. sign in"
request 200 01-login GET "/login?lang=en"
shot 01-sign-in-phone.png 390 844 "$BASE/login?lang=en"
CSRF=$("${FORMTOOL[@]}" hidden "$LAST" _csrf)
"${FORMTOOL[@]}" form "$LAST" /login --set "username=$USERNAME" --set "password=$PASSWORD" >"$WORK/login.txt"
request 303 01-login-sent POST /login "$WORK/login.txt"
expect_location /admin
grep -q cp_session "$JAR" || fail "no session cookie after signing in"

# --- 2. survey list ----------------------------------------------------------

echo "2. survey list"
request 200 02-surveys GET "/admin/surveys?lang=en"
expect_text '<li>v1: 1</li>'
url=$(publish_page 02-surveys)
shot 02-survey-list-desktop.png 1280 900 "$url"

# --- 3. start a draft: import an edited copy of v1 --------------------------

echo "3. import a draft"
request 200 03-survey GET /admin/surveys/livability
request 200 03-export GET "/admin/surveys/livability/export?version=1"
# The designer's edits: a 2027 title in Chinese and English (Korean left
# for the translator) and the Korean text of one question still to come.
python3 - "$LAST" "$WORK/definition.toml" <<'PY'
import re, sys, tomllib
text = open(sys.argv[1], encoding="utf-8").read()
def once(old, new):
    global text
    assert text.count(old) >= 1, old
    text = text.replace(old, new, 1)
once('zh = "城市人居环境满意度调查"', 'zh = "2027年城市人居环境满意度调查"')
once('en = "City Livability Satisfaction Survey"', 'en = "City Livability Satisfaction Survey 2027"')
once('ko = "도시 주거환경 만족도 조사"\n', '')
once('ko = "밤 시간대 집 주변의 치안에 대해 얼마나 만족하십니까?"\n', '')
tomllib.loads(text)
open(sys.argv[2], "w", encoding="utf-8").write(text)
PY
"${FORMTOOL[@]}" form "$PAGES/03-survey.html" /admin/surveys/livability/import --has definition \
    --set "definition=$(cat "$WORK/definition.toml")" >"$WORK/import.txt"
request 303 03-import-sent POST /admin/surveys/livability/import "$WORK/import.txt"
expect_location "/admin/surveys/livability?imported="
request 200 03-imported GET "$LAST_LOCATION"
expect_text 'The draft is stored as version 2.'
url=$(publish_page 03-imported)
shot 03-draft-imported-desktop.png 1280 900 "$url"

# --- 4. translations: the completeness meter --------------------------------

echo "4. translations"
request 200 04-translations GET /admin/surveys/livability/translations
expect_text 'tr-meter__missing'
url=$(publish_page 04-translations)
shot 04-translations-meter-desktop.png 1280 900 "$url"
shot 04-translations-meter-phone.png 390 1400 "$url"
"${FORMTOOL[@]}" form "$LAST" /admin/surveys/livability/translations \
    --set 'title|ko=2027년 도시 주거환경 만족도 조사' \
    --set 'questions.safety_night.text|ko=밤 시간대 집 주변의 치안에 대해 얼마나 만족하십니까?' \
    >"$WORK/translations.txt"
request 303 04-translations-sent POST /admin/surveys/livability/translations "$WORK/translations.txt"
expect_location "/admin/surveys/livability/translations?saved="
request 200 04-translations-saved GET "$LAST_LOCATION"
grep -q 'tr-meter__missing' "$LAST" && fail "translations still incomplete after saving"
url=$(publish_page 04-translations-saved)
shot 05-translations-complete-phone.png 390 844 "$url"

# --- 5. preview the draft in each language at phone width ------------------

echo "5. previews"
for lang in zh en ko; do
    request 200 06-preview-$lang GET "/admin/surveys/livability/preview?lang=$lang&draft=1&width=phone"
    expect_text "lang=\"$lang\""
    url=$(publish_page 06-preview-$lang)
    shot 06-preview-$lang-phone.png 390 1200 "$url"
done
expect_text '2027년 도시 주거환경 만족도 조사' "$PAGES/06-preview-ko.html"

# --- 6. structure editor: edit one question's settings ----------------------

echo "6. structure"
request 200 07-structure GET /admin/surveys/livability/structure
# The first question, the district, becomes optional: its settings form
# is sent with the "Required" box unticked.
"${FORMTOOL[@]}" form "$LAST" /admin/surveys/livability/structure \
    --match op=settings --match question=district --unset required= >"$WORK/structure.txt"
request 303 07-structure-sent POST /admin/surveys/livability/structure "$WORK/structure.txt"
expect_location "/admin/surveys/livability/structure?saved="
request 200 07-structure-saved GET "$LAST_LOCATION"
"${FORMTOOL[@]}" form "$LAST" /admin/surveys/livability/structure --match op=settings --match question=district \
    | grep -q 'required=1' && fail "district is still required"
url=$(publish_page 07-structure-saved)
shot 07-structure-edited-desktop.png 1280 1000 "$url"
shot 07-structure-edited-phone.png 390 1500 "$url"

# --- 7. publish with dates ---------------------------------------------------

echo "7. publish"
request 200 08-survey GET /admin/surveys/livability
OPENS=$(date -u +%F)
CLOSES=$(date -u -d '+60 days' +%F)
"${FORMTOOL[@]}" form "$LAST" /admin/surveys/livability/publish \
    --set "opens=$OPENS" --set "closes=$CLOSES" >"$WORK/publish.txt"
request 303 08-publish-sent POST /admin/surveys/livability/publish "$WORK/publish.txt"
expect_location "/admin/surveys/livability?published=2"
request 200 08-published GET "$LAST_LOCATION"
expect_text "$CLOSES"
url=$(publish_page 08-published)
shot 08-published-desktop.png 1280 900 "$url"
shot 08-published-phone.png 390 844 "$url"

# --- 8. a resident answers v2 on a phone ------------------------------------

echo "8. a resident answers v2"
shot 09-resident-form-phone.png 390 1600 "$BASE/s/livability?lang=en"
request 200 09-resident GET "/s/livability?lang=en"
expect_text 'name="_v" value="2"'
expect_text 'City Livability Satisfaction Survey 2027'
"${FORMTOOL[@]}" answer "$LAST" >"$WORK/answer-v2.txt"
request 303 09-resident-sent POST /s/livability "$WORK/answer-v2.txt"
expect_location /s/livability/thanks

# --- 9. thank-you page -------------------------------------------------------

echo "9. thank you"
THANKS=$LAST_LOCATION
request 200 10-thanks GET "$THANKS"
shot 10-thanks-phone.png 390 844 "$BASE$THANKS"

# --- 10. survey list with responses per version ----------------------------

echo "10. survey list with counts"
request 200 11-surveys GET "/admin/surveys"
expect_text '<li>v1: 1</li>'
expect_text '<li>v2: 1</li>'
url=$(publish_page 11-surveys)
shot 11-survey-list-counts-desktop.png 1280 900 "$url"
shot 11-survey-list-counts-phone.png 390 844 "$url"

echo
ls -l "$OUT"/*.png | awk '{ total += $5; print $5, $NF } END { print total, "bytes in all" }'
