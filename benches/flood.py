#!/usr/bin/env python3
"""How many responses can ONE client store per minute?

Floods the resident form of the built-in survey (POST /s/livability) from a
single machine with complete, valid answer sets, and counts what the server
does with them. It starts nothing: point it at a running server.

Modes:
  fetch    each iteration GETs /s/livability?lang=LANG, takes the hidden
           fields (_csrf, _form, _v, ...) and the cp_csrf cookie from it and
           POSTs the answers with them, like a browser (one cookie jar per
           thread).
  nofetch  never GETs the form: makes up its own tokens (32 lowercase hex for
           _csrf and _form, cookie cp_csrf = the same csrf, _v=1), as
           benches/wrk_post.lua does. A server that signs its form tokens
           should store nothing here; the script just counts what it gets.

Every thread keeps one keep-alive connection (http.client). POST statuses are
counted: 303 is a stored response (or a duplicate, when the redirect carries
`again=1`), 429 rate limited, 403 / 400 / 422 / anything else refused.
Rates are per minute of measured wall time.

With --database FILE --binary PATH the rows are also counted independently
(`civicpulse export livability --format csv`) before and after the run, and
`stored_in_database_per_minute` is reported. Nothing else should write to
that survey meanwhile.

With --forwarded-for-prefix 10.9 every thread sends its own
`X-Forwarded-For: 10.9.x.y` (thread 0 is 10.9.0.1, thread 1 10.9.0.2, ...).
A server trusts that header only behind a configured proxy.

Output: one JSON line on stdout, a short summary on stderr.

Usage:
  python3 benches/flood.py --url http://127.0.0.1:8080 --mode fetch
  python3 benches/flood.py --url http://127.0.0.1:8080 --mode nofetch \\
      --seconds 60 --threads 8 --database civicpulse.db \\
      --binary target/release/civicpulse
  python3 benches/flood.py --url http://127.0.0.1:8080 --mode fetch \\
      --forwarded-for-prefix 10.9 --lang en

Only the Python 3 standard library is used.
"""

import argparse
import collections
import csv
import html
import http.client
import http.cookies
import io
import json
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse

SURVEY = "livability"
FORM_PATH = "/s/" + SURVEY

# A complete, valid answer set (the same as benches/wrk_post.lua).
LIKERT = [
    "safety_night", "safety_traffic", "safety_disaster", "safety_food",
    "conv_shops", "conv_medical", "conv_school", "conv_elderly",
    "nature_air", "nature_green", "nature_coast", "nature_noise",
    "culture_heritage", "culture_venues", "culture_community", "culture_inclusion",
    "mob_transit", "mob_walking", "mob_parking", "mob_commute",
    "appearance_skyline", "appearance_streets", "appearance_character", "appearance_night",
    "pride_proud", "pride_belong", "pride_recommend", "pride_future",
]
ANSWERS = (
    [
        ("district", "huancui"),
        ("sex", "female"),
        ("age_group", "30-44"),
        ("years_resident", "5-10"),
        ("resident_type", "local"),
    ]
    + [(q, str(i % 5 + 1)) for i, q in enumerate(LIKERT, start=1)]
    + [("overall_rating", "8"), ("suggestions", "更多公园")]
)

# How POST statuses are reported: (status, name in the JSON).
NAMED_STATUSES = [
    (429, "refused_429"),
    (403, "forbidden_403"),
    (400, "bad_request_400"),
    (422, "unprocessable_422"),
]


def forwarded_address(prefix, n):
    """The n-th address (n >= 1) under a dotted prefix such as '10.9'."""
    octets = [int(o) for o in prefix.strip(".").split(".") if o != ""]
    if not 1 <= len(octets) <= 3 or any(not 0 <= o <= 255 for o in octets):
        raise ValueError("--forwarded-for-prefix needs 1 to 3 octets, e.g. 10.9")
    free = 4 - len(octets)
    if n >= 256**free:
        raise ValueError(f"prefix {prefix} has no room for {n} addresses")
    tail = [(n >> (8 * i)) & 0xFF for i in reversed(range(free))]
    return ".".join(str(o) for o in octets + tail)


# The form is 65 KB; a full HTML parser in Python costs ~12 ms per page and
# would make the client, not the server, the bottleneck. Hidden inputs are
# simple enough for a regular expression (~0.2 ms).
INPUT_TAG = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
ATTRIBUTE = re.compile(r"""([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


def hidden_fields(page):
    """(name, value) of every <input type="hidden" name=...> of a page."""
    fields = []
    for tag in INPUT_TAG.finditer(page):
        text = tag.group(0)
        if "hidden" not in text.lower():
            continue
        attrs = {k.lower(): html.unescape(a or b or c) for k, a, b, c in ATTRIBUTE.findall(text)}
        if attrs.get("type", "").lower() == "hidden" and attrs.get("name"):
            fields.append((attrs["name"], attrs.get("value", "")))
    return fields


class Client:
    """One simulated browser: a keep-alive connection and a cookie jar."""

    def __init__(self, url, forwarded_for, timeout):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http":
            raise ValueError("--url must be http://HOST:PORT")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self.forwarded_for = forwarded_for
        self.cookies = {}
        self.conn = None
        self.reconnects = 0

    def _connect(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None):
        """Send one request; returns (status, headers, body bytes).

        A keep-alive connection the server closed is reopened once."""
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.forwarded_for:
            hdrs["X-Forwarded-For"] = self.forwarded_for
        for attempt in (0, 1):
            conn = self._connect()
            try:
                conn.request(method, path, body=body, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt:
                    raise
                self.reconnects += 1
        self._remember(resp.msg.get_all("Set-Cookie") or [])
        if resp.will_close:
            self.close()
        return resp.status, resp.msg, data

    def _remember(self, set_cookies):
        for line in set_cookies:
            jar = http.cookies.SimpleCookie()
            try:
                jar.load(line)
            except http.cookies.CookieError:
                continue
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value


def new_token():
    return secrets.token_hex(16)  # 32 lowercase hex digits


class Tally:
    """Counters shared by the threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.post = collections.Counter()  # status -> count
        self.get = collections.Counter()  # status -> count (fetch mode)
        self.duplicates = 0
        self.errors = collections.Counter()  # exception name -> count
        self.post_ms = []

    def add_post(self, status, location, ms):
        with self.lock:
            self.post[status] += 1
            if status == 303 and "again=1" in (location or ""):
                self.duplicates += 1
            self.post_ms.append(ms)

    def add_get(self, status):
        with self.lock:
            self.get[status] += 1

    def add_error(self, exc):
        with self.lock:
            self.errors[type(exc).__name__] += 1


def worker(args, index, deadline, tally, reconnects):
    xff = forwarded_address(args.forwarded_for_prefix, index + 1) if args.forwarded_for_prefix else None
    client = Client(args.url, xff, args.timeout)
    form_url = f"{FORM_PATH}?lang={urllib.parse.quote(args.lang)}"
    try:
        while time.monotonic() < deadline:
            try:
                if args.mode == "fetch":
                    status, _, page = client.request("GET", form_url)
                    tally.add_get(status)
                    if status != 200:
                        continue
                    hidden = hidden_fields(page.decode("utf-8", "replace"))
                    if not any(name == "_csrf" for name, _ in hidden):
                        tally.add_error(ValueError("form without _csrf"))
                        continue
                else:
                    csrf = new_token()
                    client.cookies["cp_csrf"] = csrf
                    hidden = [("_csrf", csrf), ("_form", new_token()), ("_lang", args.lang), ("_v", "1")]
                body = urllib.parse.urlencode(hidden + ANSWERS).encode("ascii")
                t0 = time.perf_counter()
                status, headers, _ = client.request(
                    "POST",
                    FORM_PATH,
                    body=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                tally.add_post(status, headers.get("Location"), (time.perf_counter() - t0) * 1000)
            except (OSError, http.client.HTTPException) as exc:
                tally.add_error(exc)
                client.close()
                time.sleep(0.05)
    finally:
        client.close()
        reconnects[index] = client.reconnects


def count_rows(binary, database):
    """Rows of the survey, counted from the CLI's CSV export."""
    out = subprocess.run(
        [binary, "export", SURVEY, "--format", "csv", "--database", database],
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8")
    rows = list(csv.reader(io.StringIO(out)))
    return max(len(rows) - 1, 0)


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:8080")
    ap.add_argument("--seconds", type=float, default=60, help="duration (default 60)")
    ap.add_argument("--threads", type=int, default=8, help="parallel clients (default 8)")
    ap.add_argument("--mode", choices=["fetch", "nofetch"], required=True)
    ap.add_argument("--lang", default="zh", help="form language (default zh)")
    ap.add_argument("--forwarded-for-prefix", help="send X-Forwarded-For PREFIX.x.y, one address per thread")
    ap.add_argument("--database", help="database file, to count rows independently (needs --binary)")
    ap.add_argument("--binary", help="civicpulse binary used for the independent count")
    ap.add_argument("--timeout", type=float, default=30, help="per-request timeout in seconds (default 30)")
    args = ap.parse_args()
    if bool(args.database) != bool(args.binary):
        ap.error("--database and --binary go together")
    if args.forwarded_for_prefix:
        forwarded_address(args.forwarded_for_prefix, args.threads)  # fail early

    rows_before = count_rows(args.binary, args.database) if args.database else None

    tally = Tally()
    reconnects = [0] * args.threads
    start = time.monotonic()
    deadline = start + args.seconds
    threads = [
        threading.Thread(target=worker, args=(args, i, deadline, tally, reconnects), daemon=True)
        for i in range(args.threads)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    per_minute = lambda n: round(n * 60.0 / elapsed, 1)

    post = tally.post
    stored = post[303] - tally.duplicates
    named = {name: post[status] for status, name in NAMED_STATUSES}
    other = sum(n for s, n in post.items() if s != 303 and s not in dict(NAMED_STATUSES))
    result = {
        "mode": args.mode,
        "url": args.url,
        "threads": args.threads,
        "lang": args.lang,
        "forwarded_for_prefix": args.forwarded_for_prefix,
        "seconds": round(elapsed, 2),
        "posts": sum(post.values()),
        "post_status_counts": {str(s): n for s, n in sorted(post.items())},
        "get_status_counts": {str(s): n for s, n in sorted(tally.get.items())},
        "errors": dict(tally.errors),
        "reconnects": sum(reconnects),
        "stored_per_minute": per_minute(stored),
        "duplicate_per_minute": per_minute(tally.duplicates),
        **{f"{name}_per_minute": per_minute(n) for name, n in named.items()},
        "other_status_per_minute": per_minute(other),
        "errors_per_minute": per_minute(sum(tally.errors.values())),
        "post_ms_p50": percentile(tally.post_ms, 50),
        "post_ms_p95": percentile(tally.post_ms, 95),
    }
    if args.database:
        rows_after = count_rows(args.binary, args.database)
        result["rows_before"] = rows_before
        result["rows_after"] = rows_after
        result["stored_in_database"] = rows_after - rows_before
        result["stored_in_database_per_minute"] = per_minute(rows_after - rows_before)

    print(json.dumps(result, ensure_ascii=False), flush=True)
    summary = (
        f"flood {args.mode}: {result['posts']} POSTs in {elapsed:.1f}s from {args.threads} threads; "
        f"stored {result['stored_per_minute']}/min, 429 {result['refused_429_per_minute']}/min, "
        f"403 {result['forbidden_403_per_minute']}/min, other {result['other_status_per_minute']}/min, "
        f"errors {result['errors_per_minute']}/min"
    )
    if args.database:
        summary += f"; database +{result['stored_in_database']} rows ({result['stored_in_database_per_minute']}/min)"
    print(summary, file=sys.stderr)


if __name__ == "__main__":
    main()
