#!/usr/bin/env python3
"""Server memory under a burst of simultaneous sign-in attempts.

Starts the civicpulse server itself (a temporary database and folder, a free
port on 127.0.0.1), creates one admin account through the CLI, waits for
/health and records the server's idle RSS. Then, for each round, ATTEMPTS
clients (one thread, connection and cookie jar each) GET /login for the
cp_csrf cookie and the _csrf field, wait on a barrier, and POST /login all at
once. Meanwhile VmRSS of the server process is sampled from /proc/PID/status
(every 10 ms by default).

  --who unknown         usernames that do not exist (default)
  --who wrong-password  the admin account with a wrong password

With --forwarded-for-prefix 10.9 every attempt sends its own
`X-Forwarded-For: 10.9.x.y` (distinct across rounds too). A server trusts that
header only behind a configured proxy.

Per round it reports the peak sampled RSS, the RSS once the burst is over,
the POST statuses and the wall time from the barrier until the last answer;
at the end VmHWM (the kernel's own peak). One JSON line on stdout, a short
summary on stderr. The server is stopped (SIGTERM, then SIGKILL) and the
temporary folder removed on exit.

Usage:
  python3 benches/signin_memory.py --binary target/release/civicpulse
  python3 benches/signin_memory.py --binary target/release/civicpulse \\
      --who wrong-password --attempts 128 --rounds 3 --workers 2
  python3 benches/signin_memory.py --binary target/release/civicpulse \\
      --forwarded-for-prefix 10.9 -- --some-future-server-flag VALUE

Arguments after `--` are passed to `civicpulse serve`. Linux only (reads
/proc); only the Python 3 standard library is used.
"""

import argparse
import collections
import html
import http.client
import http.cookies
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ADMIN = "benchadmin"
INPUT_TAG = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
ATTRIBUTE = re.compile(r"""([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


def csrf_field(page):
    """The value of the page's <input name="_csrf">, or ''."""
    for tag in INPUT_TAG.finditer(page):
        attrs = {k.lower(): html.unescape(a or b or c) for k, a, b, c in ATTRIBUTE.findall(tag.group(0))}
        if attrs.get("name") == "_csrf":
            return attrs.get("value", "")
    return ""


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


def proc_status_kib(pid, field):
    """A `VmXXX:  1234 kB` line of /proc/PID/status, in KiB (None if gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sampler(threading.Thread):
    """Samples VmRSS of a process until stopped; keeps the peak."""

    def __init__(self, pid, interval):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.samples = 0
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            rss = proc_status_kib(self.pid, "VmRSS")
            if rss is not None:
                self.peak = max(self.peak, rss)
                self.samples += 1
            self.stopping.wait(self.interval)

    def stop(self):
        self.stopping.set()
        self.join()


class Server:
    """The civicpulse server in a temporary folder."""

    def __init__(self, binary, workers, extra):
        self.binary = os.path.abspath(binary)
        self.dir = tempfile.mkdtemp(prefix="cp-signin-")
        self.database = os.path.join(self.dir, "bench.db")
        self.port = free_port()
        self.password = secrets.token_urlsafe(24)
        self.workers, self.extra = workers, extra
        self.proc = None
        self.log = None

    def cli(self, *args, stdin=None):
        return subprocess.run(
            [self.binary, *args, "--database", self.database],
            cwd=self.dir,
            input=stdin,
            capture_output=True,
            check=True,
        )

    def start(self):
        self.cli("user", "add", ADMIN, "--role", "admin", stdin=(self.password + "\n").encode())
        cmd = [self.binary, "serve", "--bind", f"127.0.0.1:{self.port}", "--database", self.database]
        if self.workers is not None:
            cmd += ["--workers", str(self.workers)]
        cmd += self.extra
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        # cwd is the empty temporary folder, so no survey-defs/ is picked up.
        self.proc = subprocess.Popen(cmd, cwd=self.dir, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not healthy after 30 s:\n{self.log_tail()}")

    def log_tail(self, n=20):
        try:
            with open(os.path.join(self.dir, "server.log"), "rb") as f:
                return b"".join(f.readlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()

    def cleanup(self, keep):
        if keep:
            print(f"kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def cookies_from(resp, jar):
    for line in resp.msg.get_all("Set-Cookie") or []:
        c = http.cookies.SimpleCookie()
        try:
            c.load(line)
        except http.cookies.CookieError:
            continue
        for name, morsel in c.items():
            jar[name] = morsel.value


def attempt(server, username, password, xff, barrier, timeout, out):
    """One client: GET /login, wait for everyone, POST /login."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    jar = {}
    base = {"X-Forwarded-For": xff} if xff else {}
    try:
        try:
            conn.request("GET", "/login", headers=base)
            resp = conn.getresponse()
            page = resp.read().decode("utf-8", "replace")
            cookies_from(resp, jar)
            csrf = csrf_field(page)
            out["get_status"] = resp.status
        except (OSError, http.client.HTTPException) as exc:
            out["get_status"] = type(exc).__name__
            csrf = ""
        # Everyone waits here, even after a failed GET, so the barrier holds.
        barrier.wait()
        body = urllib.parse.urlencode({"_csrf": csrf, "username": username, "password": password})
        headers = dict(base)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        try:
            conn.request("POST", "/login", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            out["status"] = resp.status
        except (OSError, http.client.HTTPException) as exc:
            out["status"] = type(exc).__name__
        out["done"] = time.perf_counter()
    finally:
        conn.close()


def run_round(server, args, round_index):
    n = args.attempts
    start = {}
    barrier = threading.Barrier(n, action=lambda: start.setdefault("t", time.perf_counter()))
    results = [{} for _ in range(n)]
    threads = []
    for i in range(n):
        if args.who == "unknown":
            username, password = f"nobody-{round_index}-{i}", f"guess-{secrets.token_hex(8)}"
        else:
            username, password = ADMIN, f"wrong-{secrets.token_hex(8)}"
        xff = forwarded_address(args.forwarded_for_prefix, round_index * n + i + 1) if args.forwarded_for_prefix else None
        threads.append(
            threading.Thread(
                target=attempt,
                args=(server, username, password, xff, barrier, args.timeout, results[i]),
                daemon=True,
            )
        )
    sampler = Sampler(server.proc.pid, args.sample_ms / 1000)
    rss_before = proc_status_kib(server.proc.pid, "VmRSS")
    sampler.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(args.settle)  # let the server free what it will
    sampler.stop()
    rss_after = proc_status_kib(server.proc.pid, "VmRSS")
    done = [r["done"] for r in results if "done" in r]
    statuses = collections.Counter(str(r.get("status")) for r in results)
    gets = collections.Counter(str(r.get("get_status")) for r in results)
    return {
        "round": round_index + 1,
        "rss_before_kib": rss_before,
        "peak_rss_kib": sampler.peak,
        "rss_after_kib": rss_after,
        "peak_over_idle_mib": None,  # filled in by main
        "wall_s": round(max(done) - start["t"], 3) if done and "t" in start else None,
        "post_statuses": dict(sorted(statuses.items())),
        "get_statuses": dict(sorted(gets.items())),
        "samples": sampler.samples,
    }


def mib(kib):
    return None if kib is None else round(kib / 1024, 1)


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Arguments after `--` are passed to `civicpulse serve`.",
    )
    ap.add_argument("--binary", required=True, help="civicpulse binary (use a release build)")
    ap.add_argument("--attempts", type=int, default=128, help="simultaneous sign-ins per round (default 128)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    ap.add_argument("--who", choices=["unknown", "wrong-password"], default="unknown")
    ap.add_argument("--workers", type=int, help="server --workers (default: the server's own)")
    ap.add_argument("--forwarded-for-prefix", help="send X-Forwarded-For PREFIX.x.y, one address per attempt")
    ap.add_argument("--sample-ms", type=float, default=10, help="RSS sampling interval (default 10 ms)")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds to wait after a round (default 1)")
    ap.add_argument("--timeout", type=float, default=120, help="per-request timeout in seconds (default 120)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (database, server log)")
    args = ap.parse_args(argv)
    if args.forwarded_for_prefix:
        forwarded_address(args.forwarded_for_prefix, args.attempts * args.rounds)  # fail early

    server = Server(args.binary, args.workers, extra)
    try:
        server.start()
        time.sleep(0.5)
        pid = server.proc.pid
        idle = proc_status_kib(pid, "VmRSS")
        rounds = []
        for r in range(args.rounds):
            result = run_round(server, args, r)
            result["peak_over_idle_mib"] = mib(result["peak_rss_kib"] - idle)
            rounds.append(result)
            print(
                f"round {r + 1}: peak RSS {mib(result['peak_rss_kib'])} MiB "
                f"(idle {mib(idle)}), after {mib(result['rss_after_kib'])} MiB, "
                f"{result['wall_s']} s, POST {result['post_statuses']}",
                file=sys.stderr,
            )
        hwm = proc_status_kib(pid, "VmHWM")
        if server.proc.poll() is not None:
            raise RuntimeError(f"server died (exit {server.proc.returncode}):\n{server.log_tail()}")
    except Exception:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()
        server.cleanup(args.keep)

    report = {
        "binary": args.binary,
        "who": args.who,
        "attempts": args.attempts,
        "workers": args.workers,
        "forwarded_for_prefix": args.forwarded_for_prefix,
        "server_args": extra,
        "idle_rss_kib": idle,
        "peak_rss_kib": max(r["peak_rss_kib"] for r in rounds),
        "vmhwm_kib": hwm,
        "idle_rss_mib": mib(idle),
        "peak_rss_mib": mib(max(r["peak_rss_kib"] for r in rounds)),
        "vmhwm_mib": mib(hwm),
        "rounds": rounds,
    }
    print(json.dumps(report), flush=True)
    print(
        f"signin_memory {args.who} x{args.attempts}: idle {mib(idle)} MiB, "
        f"peak {report['peak_rss_mib']} MiB, VmHWM {mib(hwm)} MiB",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
