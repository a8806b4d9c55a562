#!/usr/bin/env python3
"""The benchmark's driver; run it through bench/run.sh, which builds everything and starts the engine.

Steps: generate the data set, migrate and seed the table, start the release service pinned to a
CPU, then for each operation alternate load-generator runs against the service (oha over HTTP) with
ceiling runs (examples/bench_ceiling: the same DynamoDB operation through aws-sdk-dynamodb, no
HTTP), at the same concurrency. Then peak RSS under BENCH_RSS_CONCURRENCY connections, the same
runs against examples/bench_floor (the routes with only axum around the repository calls), and the
time from spawn to the first 200 from /health/ready. Raw results go to bench/out/results.json, the
report to BENCHMARKS.md. Medians of BENCH_RUNS runs are quoted.

Every setting is an environment variable (defaults in SETTINGS below); stdlib only.
"""
import datetime
import json
import os
import platform
import random
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

import writes

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

SETTINGS = {
    "BENCH_RUNS": "3",  # measured runs per operation and side (service, ceiling); the median is quoted
    "BENCH_DURATION": "10",  # seconds per measured run
    "BENCH_WARMUP": "2",  # seconds of warm-up per operation and side, not measured
    "BENCH_CONCURRENCY": "32",  # connections (service) and workers (ceiling) for GET and PATCH
    "BENCH_PAGE_CONCURRENCY": "32",  # ... and for the author and category pages
    "BENCH_RSS_CONCURRENCY": "64",  # connections for the peak-RSS runs
    "BENCH_RSS_DURATION": "",  # seconds per operation for the peak-RSS runs (default BENCH_DURATION)
    "BENCH_RSS_OPS": "get,author,category,patch",  # operations for the peak-RSS runs
    "BENCH_STARTS": "7",  # start-ups timed; the median is quoted
    "BENCH_AUTHORS": "500",
    "BENCH_BOOKS_PER_AUTHOR": "20",
    "BENCH_CATEGORIES": "20",
    "BENCH_OPS": "get,author,category,patch",
    "BENCH_PORT": "8095",  # the service's port on 127.0.0.1
    "BENCH_ENGINE_PORT": "8790",  # the engine's port on 127.0.0.1 (bench/run.sh starts it)
    "BENCH_ENGINE_CPU": "0",  # CPU list for the engine (taskset -c); empty: no pinning
    "BENCH_SERVICE_CPU": "1",  # CPU list for the service, oha and the ceiling client; empty: no pinning
    "BENCH_OUT": os.path.join(ROOT, "bench", "out"),
    "BENCH_REPORT": os.path.join(ROOT, "BENCHMARKS.md"),
    "BENCH_COMMAND": "bench/run.sh",  # how the report says it was run
}

OPS = {
    "get": ("GET one book", "GET /books/{author}/{title}", "GetItem"),
    "author": ("Author page", "GET /authors/{author}/books?limit=20", "Query"),
    "category": ("Category page", "GET /categories/{category}/books?limit=20", "Query on CategoryIndex"),
    "patch": ("Format PATCH", 'PATCH /books/{author}/{title}/formats {"add":{"Audiobook":"X"}}', "UpdateItem ALL_NEW"),
    "catalogue": ("Category list", "GET /categories", "Query on the catalogue table"),
    "create": ("Create", "PUT /books/{author}/{new title} {category, formats}",
               "TransactWriteItems: the book + 2 count ADDs"),
    "delete": ("Delete", "DELETE /books/{author}/{title} of a created book",
               "TransactWriteItems: the delete + 2 count ADDs"),
}
# Driven by bench/writes.py, not oha: each request needs a key of its own (see there).
WRITE_OPS = ("create", "delete")
# Operations the ceiling and the floor (examples/bench_*.rs) do not have: comparisons only.
COMPARE_ONLY_OPS = ("catalogue", *WRITE_OPS)
TOKEN = "bench-token"
# GET requests per second per service core when the CPU targets were set (issue 11: 0.293 ms of
# CPU per GET at 32 connections): the baseline of the "2 × throughput per core" target.
BASELINE_GET_PER_CORE = 3413
# Hand-kept sections appended to BENCHMARKS.md: before/after comparisons and profiles.
HISTORY = os.path.join(ROOT, "bench", "history.md")
PATCH_BODY = '{"add":{"Audiobook":"X"}}'


def setting(name):
    return os.environ.get(name, SETTINGS[name])


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(msg)
    sys.exit(1)


def require_executable(path):
    if not os.access(path, os.X_OK):
        die(f"{path or 'a binary'} is missing; run bench/run.sh, which builds it")


def pinned(cpus, argv):
    return (["taskset", "-c", cpus] if cpus else []) + argv


def cpu_list(cpus):
    """The CPUs of a taskset list such as "1" or "0,2-3"."""
    out = set()
    for part in cpus.split(","):
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss(pid):
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def http_status(port, path, timeout=1.0):
    """Status of one GET on 127.0.0.1:port, or None if nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
        return int(head.split()[1]) if head.startswith(b"HTTP/") else None
    except (OSError, ValueError, IndexError):
        return None


class Bench:
    compares = False  # bench/compare.py's subclass: variants against each other, no ceiling
    def __init__(self):
        self.runs = int(setting("BENCH_RUNS"))
        self.duration = float(setting("BENCH_DURATION"))
        self.warmup = float(setting("BENCH_WARMUP"))
        self.concurrency = int(setting("BENCH_CONCURRENCY"))
        self.page_concurrency = int(setting("BENCH_PAGE_CONCURRENCY"))
        self.rss_concurrency = int(setting("BENCH_RSS_CONCURRENCY"))
        self.rss_duration = float(setting("BENCH_RSS_DURATION") or self.duration)
        self.starts = int(setting("BENCH_STARTS"))
        self.port = int(setting("BENCH_PORT"))
        self.engine_port = int(setting("BENCH_ENGINE_PORT"))
        self.engine_cpu = setting("BENCH_ENGINE_CPU")
        self.service_cpu = setting("BENCH_SERVICE_CPU")
        self.ops = [op for op in setting("BENCH_OPS").split(",") if op]
        for op in self.ops:
            if op not in OPS:
                die(f"unknown operation {op!r} in BENCH_OPS (known: {', '.join(OPS)})")
        if not self.compares and set(self.ops) & set(COMPARE_ONLY_OPS):
            die(f"BENCH_OPS: {', '.join(COMPARE_ONLY_OPS)} have no ceiling or floor to measure "
                "against; use them with bench/compare.sh")
        if "delete" in self.ops and ("create" not in self.ops
                                     or self.ops.index("create") > self.ops.index("delete")):
            die("BENCH_OPS: delete deletes the books create made, so create must come before it")
        self.out = setting("BENCH_OUT")
        os.makedirs(self.out, exist_ok=True)
        # Built by bench/run.sh with scripts/release-build.sh, so the benchmarked binary is the
        # shipped one and its build is shared with the release check.
        self.bin = os.path.abspath(os.environ.get("BENCH_BIN", ""))
        self.ceiling = os.path.abspath(os.environ.get("BENCH_CEILING", ""))
        self.floor_bin = os.path.abspath(os.environ.get("BENCH_FLOOR", ""))
        self.oha_bin = os.environ.get("BENCH_OHA", os.path.join(ROOT, ".tools", "oha", "bin", "oha"))
        for path in (self.bin, self.oha_bin):
            require_executable(path)
        self.clk_tck = int(subprocess.check_output(["getconf", "CLK_TCK"]).strip())
        self.env = dict(os.environ)
        self.env.update({
            "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{self.engine_port}",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_EC2_METADATA_DISABLED": "true",
            "BOOKSTORE_TABLE": "Books",
            "BOOKSTORE_ADDR": f"127.0.0.1:{self.port}",
            "BOOKSTORE_API_TOKENS": TOKEN,
            # One token writes thousands a second here: the per-principal quota (50/s by default)
            # would answer most with 429. A variant can set it to measure the quota's own cost.
            "BOOKSTORE_WRITE_RATE": "0",
            "BENCH_CLK_TCK": str(self.clk_tck),
        })
        self.env.pop("BOOKSTORE_AUTH", None)
        self.service = None
        self.token = TOKEN  # the writes' bearer token; a comparison's variant may set a JWT
        self.created = []  # paths the create runs made, which the delete runs delete
        self.results = {"settings": {k: setting(k) for k in SETTINGS}}

    # ---- engine, data, service ------------------------------------------------------------

    def engine_pid(self):
        with open(os.path.join(ROOT, ".tools", f"engine-{self.engine_port}.pid")) as f:
            return int(f.read().strip())

    def pin_engine(self):
        pid = self.engine_pid()
        if self.engine_cpu:
            subprocess.run(["taskset", "-a", "-p", "-c", self.engine_cpu, str(pid)],
                           check=True, stdout=subprocess.DEVNULL)
        return pid

    def prepare_data(self):
        base = f"http://127.0.0.1:{self.port}"
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_data.py"), self.out, base,
                        setting("BENCH_AUTHORS"), setting("BENCH_BOOKS_PER_AUTHOR"),
                        setting("BENCH_CATEGORIES")], check=True)
        self.books = os.path.join(self.out, "books.json")
        with open(self.books, encoding="utf-8") as f:
            self.book_list = json.load(f)
        n = len(self.book_list)
        with open(os.path.join(self.out, "tool.log"), "w") as logf:
            subprocess.run([self.bin, "migrate"], env=self.env, check=True, stdout=logf, stderr=logf)
            started = time.monotonic()
            subprocess.run([self.bin, "seed", self.books], env=self.env, check=True,
                           stdout=logf, stderr=logf)
            seconds = time.monotonic() - started
        self.results["data"] = {
            "books": n, "authors": int(setting("BENCH_AUTHORS")),
            "categories": int(setting("BENCH_CATEGORIES")), "seed_seconds": round(seconds, 1),
        }
        log(f"seeded {n} books in {seconds:.1f} s")

    def spawn_service(self, logf):
        return subprocess.Popen(pinned(self.service_cpu, [self.bin, "serve"]), env=self.env,
                                stdout=logf, stderr=subprocess.STDOUT)

    def stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def wait_ready(self, proc, timeout=30.0, poll=0.001):
        """Seconds from now until /health/ready answers 200 (polled every `poll` s)."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                die(f"the service exited with {proc.returncode}; see {self.out}/service.log")
            if http_status(self.port, "/health/ready") == 200:
                return time.perf_counter() - started
            time.sleep(poll)
        die("the service did not become ready in 30 s")

    def launch(self, log_name):
        """Starts the service (spawn_service) on a free port and waits until it is ready; a
        service already answering there would be measured instead, so that is refused."""
        if http_status(self.port, "/health/live") is not None:
            die(f"something already answers on 127.0.0.1:{self.port}; set BENCH_PORT")
        self.service_log = open(os.path.join(self.out, log_name), "w")
        self.service = self.spawn_service(self.service_log)
        self.wait_ready(self.service)

    def start_service(self):
        self.launch("service.log")
        self.sanity_check()

    def sanity_check(self):
        """One request per operation through urllib, so a broken route fails loudly, not as 404s in a table."""
        def first(name):
            with open(os.path.join(self.out, f"urls-{name}.txt")) as f:
                return f.readline().strip()
        for op in self.ops:
            if op in WRITE_OPS:
                continue  # their runs check every status (writes.py)
            req = urllib.request.Request(first(op))
            if op == "patch":
                req = urllib.request.Request(first(op), data=PATCH_BODY.encode(), method="PATCH",
                                             headers={"Authorization": f"Bearer {self.token}",
                                                      "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                body = json.loads(resp.read())
            if op in ("author", "category") and len(body["items"]) != 20:
                die(f"{op}: expected a page of 20, got {len(body['items'])}")
        log("sanity check passed: every benchmarked route answers 200")

    # ---- load -----------------------------------------------------------------------------

    def oha(self, op, concurrency, seconds, extra=()):
        if op in WRITE_OPS:
            return self.write_load(op, concurrency, seconds)
        argv = [self.oha_bin, "--no-tui", "--output-format", "json", "-c", str(concurrency),
                "-z", f"{seconds}s", "--urls-from-file", os.path.join(self.out, f"urls-{op}.txt"),
                *extra]
        if op == "patch":
            argv += ["-m", "PATCH", "-H", f"Authorization: Bearer {self.token}",
                     "-H", "Content-Type: application/json", "-d", PATCH_BODY]
        pid = self.service.pid
        ticks = cpu_ticks(pid)
        proc = subprocess.run(pinned(self.service_cpu, argv), capture_output=True, text=True)
        ticks = cpu_ticks(pid) - ticks
        if proc.returncode != 0:
            die(f"oha failed ({proc.returncode}): {proc.stderr.strip()[:2000]}")
        data = json.loads(proc.stdout)
        codes = {str(k): v for k, v in data.get("statusCodeDistribution", {}).items()}
        total = sum(codes.values())
        ok = codes.get("200", 0)
        errors = data.get("errorDistribution", {})
        if total == 0 or ok < total:
            log(f"warning: {op}: status codes {codes}, errors {errors}")
        cpu_s = ticks / self.clk_tck
        return {
            "requests": total, "ok": ok, "status_codes": codes, "errors": errors,
            "rps": data["summary"]["requestsPerSec"],
            "p50_ms": (data["latencyPercentiles"]["p50"] or float("nan")) * 1000,
            "p99_ms": (data["latencyPercentiles"]["p99"] or float("nan")) * 1000,
            "cpu_s": cpu_s,
            "cpu_ms_per_req": cpu_s * 1000 / total if total else 0.0,
        }

    def write_load(self, op, concurrency, seconds):
        """A create or delete run (bench/writes.py), on the service's CPUs as oha would be."""
        if op == "create":
            method, work = "PUT", writes.creates(self.book_list, random.Random())
        else:
            method, work = "DELETE", ((path, b"") for path in self.drain_created())
        affinity = os.sched_getaffinity(0)
        if self.service_cpu:
            os.sched_setaffinity(0, cpu_list(self.service_cpu))
        pid = self.service.pid
        ticks = cpu_ticks(pid)
        try:
            r = writes.run(self.port, method, work, self.token, concurrency, seconds)
        finally:
            ticks = cpu_ticks(pid) - ticks
            os.sched_setaffinity(0, affinity)
        if op == "create":
            self.created.extend(r["done"])
        del r["done"]
        total = r["requests"]
        r["ok"] = sum(n for code, n in r["status_codes"].items() if code.startswith("2"))
        if total == 0 or r["ok"] < total:
            log(f"warning: {op}: status codes {r['status_codes']}")
        r["errors"] = {}
        r["cpu_s"] = ticks / self.clk_tck
        r["cpu_ms_per_req"] = r["cpu_s"] * 1000 / total if total else 0.0
        return r

    def drain_created(self):
        while self.created:
            yield self.created.pop()

    def concurrency_for(self, op):
        """Connections (and ceiling workers) for an operation: pages have their own setting."""
        return self.page_concurrency if op in ("author", "category") else self.concurrency

    def rss_ops(self):
        """The operations of the peak-RSS runs: BENCH_RSS_OPS that this run measures."""
        return [op for op in setting("BENCH_RSS_OPS").split(",") if op in self.ops]

    def ceiling_run(self, op, concurrency, seconds, warmup):
        argv = [self.ceiling, "--op", op, "--books", self.books, "--concurrency", str(concurrency),
                "--duration", str(seconds), "--warmup", str(warmup)]
        proc = subprocess.run(pinned(self.service_cpu, argv), env=self.env, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            die(f"bench_ceiling failed ({proc.returncode}): {proc.stderr.strip()[:2000]}")
        if proc.stderr.strip():
            log(f"ceiling {op}: {proc.stderr.strip()[:500]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def throughput(self):
        engine = self.engine_pid()
        self.results["ops"] = {}
        for op in self.ops:
            conc = self.concurrency_for(op)
            log(f"{op}: warm-up, {conc} connections")
            self.oha(op, conc, self.warmup)
            service_runs, ceiling_runs = [], []
            for i in range(self.runs):
                reset_peak_rss(self.service.pid)
                e0 = cpu_ticks(engine)
                r = self.oha(op, conc, self.duration)
                r["engine_cpu_s"] = (cpu_ticks(engine) - e0) / self.clk_tck
                r["peak_rss_kib"] = status_kib(self.service.pid, "VmHWM")
                service_runs.append(r)
                log(f"{op} run {i + 1}/{self.runs} service: {r['rps']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, "
                    f"p99 {r['p99_ms']:.2f} ms, cpu {r['cpu_ms_per_req']:.3f} ms/req")
                e0 = cpu_ticks(engine)
                # The first ceiling run warms up for as long as the service's warm-up did.
                c = self.ceiling_run(op, conc, self.duration, self.warmup if i == 0 else 0.5)
                c["engine_cpu_s"] = (cpu_ticks(engine) - e0) / self.clk_tck
                ceiling_runs.append(c)
                log(f"{op} run {i + 1}/{self.runs} ceiling: {c['rps']:.0f} req/s, p50 {c['p50_ms']:.2f} ms, "
                    f"p99 {c['p99_ms']:.2f} ms, cpu {c['cpu_ms_per_req']:.3f} ms/req")
            self.results["ops"][op] = {"concurrency": conc, "service": service_runs,
                                       "ceiling": ceiling_runs}

    def floor(self):
        """The service's oha runs again against examples/bench_floor (the same repository calls
        with only axum around them), on the service's port once the service has stopped: what
        serving HTTP costs before any of the service's features. Then its peak RSS, as peak_rss()."""
        with open(os.path.join(self.out, "floor.log"), "w") as logf:
            # oha() measures self.service, so the floor stands in for it until it stops.
            self.service = subprocess.Popen(pinned(self.service_cpu, [self.floor_bin, "serve"]),
                                            env=self.env, stdout=logf, stderr=subprocess.STDOUT)
            self.wait_ready(self.service)
            try:
                pid, ops = self.service.pid, {}
                for op in self.ops:
                    conc = self.concurrency_for(op)
                    self.oha(op, conc, self.warmup)
                    runs = []
                    for i in range(self.runs):
                        r = self.oha(op, conc, self.duration)
                        runs.append(r)
                        log(f"{op} run {i + 1}/{self.runs} floor: {r['rps']:.0f} req/s, "
                            f"p99 {r['p99_ms']:.2f} ms, cpu {r['cpu_ms_per_req']:.3f} ms/req")
                    ops[op] = runs
                reset_peak_rss(pid)
                for op in self.rss_ops():
                    self.oha(op, self.rss_concurrency, self.rss_duration)
                self.results["floor"] = {"ops": ops, "peak_rss_kib": status_kib(pid, "VmHWM")}
                log(f"floor peak RSS at {self.rss_concurrency} connections: "
                    f"{self.results['floor']['peak_rss_kib'] / 1024:.1f} MiB")
            finally:
                self.stop(self.service)

    def peak_rss(self):
        pid = self.service.pid
        reset_peak_rss(pid)
        runs = {}
        for op in self.rss_ops():
            r = self.oha(op, self.rss_concurrency, self.rss_duration)
            r["peak_rss_kib"] = status_kib(pid, "VmHWM")
            runs[op] = r
            log(f"{op} at {self.rss_concurrency} connections: {r['rps']:.0f} req/s, "
                f"peak RSS so far {r['peak_rss_kib'] / 1024:.1f} MiB")
        self.results["rss"] = {
            "concurrency": self.rss_concurrency, "runs": runs,
            "peak_rss_kib": status_kib(pid, "VmHWM"),
            "rss_after_kib": status_kib(pid, "VmRSS"),
        }

    def compression(self):
        """A 100-book category page with no Accept-Encoding, gzip and br: bytes and CPU per request."""
        with open(os.path.join(self.out, "urls-page100.txt")) as f:
            url = f.readline().strip()
        runs = {}
        for encoding in ("identity", "gzip", "br"):
            req = urllib.request.Request(url, headers={"Accept-Encoding": encoding})
            with urllib.request.urlopen(req, timeout=10) as resp:
                size = len(resp.read())
                got = resp.headers.get("Content-Encoding", "identity")
            if got != encoding:
                die(f"compression: asked for {encoding}, got {got}")
            r = self.oha("page100", self.concurrency, self.duration, ["-H", f"Accept-Encoding: {encoding}"])
            r["bytes"] = size
            runs[encoding] = r
            log(f"100-book page, {encoding}: {size} bytes, {r['rps']:.0f} req/s, "
                f"cpu {r['cpu_ms_per_req']:.3f} ms/req")
        self.results["compression"] = {"concurrency": self.concurrency, "runs": runs}

    def startup(self):
        """Spawn to first 200 from /health/ready, table already migrated, polled every ms."""
        self.stop(self.service)
        times = []
        with open(os.path.join(self.out, "startup.log"), "w") as logf:
            for _ in range(self.starts):
                spawned = time.perf_counter()
                proc = self.spawn_service(logf)
                self.wait_ready(proc, poll=0.0005)
                times.append((time.perf_counter() - spawned) * 1000)
                self.stop(proc)
                time.sleep(0.2)
        self.results["startup_ms"] = times
        log(f"start-up to ready: {', '.join(f'{t:.1f}' for t in times)} ms")

    # ---- report ---------------------------------------------------------------------------

    def machine(self):
        model = "unknown"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem_kib = int(f.readline().split()[1])

        def out(argv):
            try:
                return subprocess.check_output(argv, text=True, cwd=ROOT,
                                               stderr=subprocess.DEVNULL).strip()
            except (OSError, subprocess.CalledProcessError):
                return "unknown"
        # The crate's version is in its install folder (.tools/dynoxide-<version>); the binary's
        # own --version prints an internal number that does not match the crate's.
        path = out([os.path.join(ROOT, "scripts", "dynamodb-engine.sh"), "path"])
        crate = os.path.basename(os.path.dirname(os.path.dirname(path))).replace("dynoxide-", "")
        engine = f"dynoxide-rs {crate} (`--version`: {out([path, '--version'])})" if path != "unknown" else path
        return {
            "nproc": os.cpu_count(), "cpu_model": model, "mem_gib": round(mem_kib / 1048576, 1),
            "kernel": platform.release(), "rustc": out(["rustc", "--version"]),
            "oha": out([self.oha_bin, "--version"]), "engine": engine,
            "commit": out(["git", "describe", "--always", "--dirty"]),
            "loadavg_before": open("/proc/loadavg").read().split()[:3],
        }

    def run(self):
        require_executable(self.ceiling)
        require_executable(self.floor_bin)
        self.results["machine"] = self.machine()
        self.results["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.results["engine_pid_cpus"] = self.engine_cpu
        self.pin_engine()
        self.prepare_data()
        self.start_service()
        try:
            self.throughput()
            self.peak_rss()
            self.compression()
        finally:
            self.stop(self.service)
        self.floor()
        self.startup()
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(self.results, f, indent=2)
        report = render(self.results)
        with open(setting("BENCH_REPORT"), "w") as f:
            f.write(report)
        log(f"wrote {setting('BENCH_REPORT')} and {self.out}/results.json")
        print(report)


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def render(res):
    """BENCHMARKS.md from results.json (also: python3 bench/bench.py --render results.json)."""
    s = res["settings"]
    m = res["machine"]
    duration = float(s["BENCH_DURATION"])
    rss_limit_kib = 20 * 1024
    lines = []
    w = lines.append
    w("# Benchmarks: the service against DynamoDB's own ceiling\n")
    w("Every number below comes from one run of the command below on the machine below; "
      "the raw data are in `bench/out/results.json` of that run.\n")
    w("```sh")
    env = " ".join(f"{k}={v}" for k, v in s.items()
                    if k not in ("BENCH_OUT", "BENCH_REPORT", "BENCH_COMMAND") and v != SETTINGS[k])
    w((env + " " if env else "") + s["BENCH_COMMAND"])
    w("```\n")
    w(f"- Date: {res['date']}; commit `{m['commit']}`")
    w(f"- Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['mem_gib']} GiB memory, Linux {m['kernel']}; "
      f"load average before the run {' / '.join(m['loadavg_before'])}")
    w(f"- Tools: {m['rustc']}; load generator {m['oha']}; engine {m.get('engine', 'unknown')} "
      "(`scripts/dynamodb-engine.sh`, SQLite in memory)")
    d = res["data"]
    w(f"- Data: {d['books']} books, {d['authors']} authors, {d['categories']} categories "
      f"(`bench/gen_data.py`), loaded with `bookstore seed` in {d['seed_seconds']} s; every request "
      "picks a random key (oha `--urls-from-file` over one URL per book/author/category; the ceiling "
      "draws from the same seed file)")
    cpu_note = (f"engine pinned to CPU {s['BENCH_ENGINE_CPU']}; service, oha and the ceiling client "
                f"pinned to CPU {s['BENCH_SERVICE_CPU']}" if s["BENCH_ENGINE_CPU"] and s["BENCH_SERVICE_CPU"]
                else "no CPU pinning")
    w(f"- Placement: {cpu_note} (`taskset`). With one CPU each, the service's and the ceiling's tokio "
      "runtimes both run one worker thread.")
    w(f"- Runs: {s['BENCH_RUNS']} runs of {s['BENCH_DURATION']} s per operation and side, after "
      f"{s['BENCH_WARMUP']} s of warm-up; service and ceiling runs alternate; medians quoted. "
      f"Concurrency (oha connections for the service, tokio workers for the ceiling): "
      f"{s['BENCH_CONCURRENCY']} for GET and PATCH, {s['BENCH_PAGE_CONCURRENCY']} for the author and "
      "category pages.")
    w("- Service: `bookstore serve` (release build, `RUST_LOG` unset so `info`: one JSON log line per "
      "request, to a file). Ceiling: `examples/bench_ceiling.rs`, the same DynamoDB requests through "
      "the service's own client configuration, without HTTP.")
    w("- CPU per request: user + system time from `/proc/<pid>/stat` (service) or `/proc/self/stat` "
      "(ceiling) over the run, divided by the requests it answered. Peak RSS: `VmHWM` from "
      "`/proc/<pid>/status`, reset before each run (`clear_refs`). Service cores: its CPU seconds "
      "over the run's seconds; req/s per core is req/s divided by that. Engine cores: the engine's "
      "CPU seconds over the run's seconds, the same for both sides: well under 1 (its one pinned "
      "CPU) means the engine is not the bottleneck.\n")

    floor = res.get("floor")
    w("## Per operation (medians)\n")
    w(f"| operation | route → DynamoDB | conn. | service req/s | ceiling req/s | ratio | service p50 / p99 ms | "
      f"ceiling p50 / p99 ms | service CPU ms/req | ceiling CPU ms/req | CPU ratio | service cores | "
      f"service req/s per core | engine cores (service / ceiling runs) | service peak RSS MiB |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    summary = {}
    for op, runs in res["ops"].items():
        sv, cl = runs["service"], runs["ceiling"]
        row = {
            "rps": med(sv, "rps"), "c_rps": med(cl, "rps"),
            "p50": med(sv, "p50_ms"), "p99": med(sv, "p99_ms"),
            "c_p50": med(cl, "p50_ms"), "c_p99": med(cl, "p99_ms"),
            "cpu": med(sv, "cpu_ms_per_req"), "c_cpu": med(cl, "cpu_ms_per_req"),
            "rss": max(r["peak_rss_kib"] for r in sv) / 1024,
            "cores": statistics.median(r["cpu_s"] / duration for r in sv),
            "per_core": statistics.median(r["rps"] / (r["cpu_s"] / duration) for r in sv if r["cpu_s"]),
            "engine": statistics.median(r["engine_cpu_s"] / duration for r in sv),
            "c_engine": statistics.median(r["engine_cpu_s"] / duration for r in cl),
            "conc": runs["concurrency"],
        }
        if floor and op in floor["ops"]:
            row["f_cpu"] = med(floor["ops"][op], "cpu_ms_per_req")
        summary[op] = row
        title, route, ddb = OPS[op]
        cpu_ratio = row["cpu"] / row["c_cpu"] if row["c_cpu"] else float("inf")
        w(f"| {title} | `{route}` → {ddb} | {runs['concurrency']} | {row['rps']:.0f} | {row['c_rps']:.0f} | "
          f"{row['rps'] / row['c_rps']:.2f} | {row['p50']:.2f} / {row['p99']:.2f} | "
          f"{row['c_p50']:.2f} / {row['c_p99']:.2f} | {row['cpu']:.3f} | {row['c_cpu']:.3f} | "
          f"{cpu_ratio:.2f} | {row['cores']:.2f} | {row['per_core']:.0f} | "
          f"{row['engine']:.2f} / {row['c_engine']:.2f} | {row['rss']:.1f} |")
    w("")

    if floor:
        w("## What HTTP itself costs: the floor\n")
        w("`examples/bench_floor.rs` serves the same routes with only axum around the service's own "
          "repository calls: no request id, access log, metrics, security headers, CORS, compression, "
          "admission control, deadline, auth, ETag or validation beyond parsing the names. The same oha "
          "runs, after the service's (not interleaved with them). Floor ÷ ceiling is what serving HTTP "
          "costs on top of the SDK call; service ÷ floor is what the service's features cost on top of "
          "that.\n")
        w("| operation | ceiling CPU ms/req | floor CPU ms/req | service CPU ms/req | floor ÷ ceiling | "
          "service ÷ floor | service ÷ ceiling | floor req/s | floor p50 / p99 ms |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for op, runs in floor["ops"].items():
            if op not in summary:
                continue
            r = summary[op]
            f_cpu = r["f_cpu"]
            w(f"| {OPS[op][0]} | {r['c_cpu']:.3f} | {f_cpu:.3f} | {r['cpu']:.3f} | {f_cpu / r['c_cpu']:.2f} | "
              f"{r['cpu'] / f_cpu:.2f} | {r['cpu'] / r['c_cpu']:.2f} | {med(runs, 'rps'):.0f} | "
              f"{med(runs, 'p50_ms'):.2f} / {med(runs, 'p99_ms'):.2f} |")
        w(f"\nThe floor's peak RSS at {s['BENCH_RSS_CONCURRENCY']} connections ({s['BENCH_RSS_OPS']}): "
          f"{floor['peak_rss_kib'] / 1024:.1f} MiB.\n")

    w("## Targets\n")
    w("| target | result | numbers |")
    w("|---|---|---|")

    def verdict(ok):
        return "**met**" if ok else "**missed**"
    for op, r in summary.items():
        ratio = r["rps"] / r["c_rps"]
        w(f"| {OPS[op][0]}: throughput at {r['conc']} connections ≥ 0.9 × ceiling | "
          f"{verdict(ratio >= 0.9)} | {r['rps']:.0f} vs {r['c_rps']:.0f} req/s = {ratio:.2f} |")
    for op, r in summary.items():
        w(f"| {OPS[op][0]}: p99 ≤ ceiling p99 + 1 ms | {verdict(r['p99'] <= r['c_p99'] + 1)} | "
          f"{r['p99']:.2f} ms vs {r['c_p99']:.2f} + 1 ms |")
    if "get" in summary:
        g = summary["get"]
        w(f"| CPU per GET ≤ 0.15 ms at {g['conc']} connections (stretch 0.10) | {verdict(g['cpu'] <= 0.15)} | "
          f"{g['cpu']:.3f} ms |")
    for op, r in summary.items():
        floor_note = f"; the floor alone: {r['f_cpu'] / r['c_cpu']:.2f} ×" if "f_cpu" in r else ""
        w(f"| {OPS[op][0]}: service CPU ≤ 1.3 × the bare SDK client's | "
          f"{verdict(r['cpu'] <= 1.3 * r['c_cpu'])} | {r['cpu']:.3f} vs {r['c_cpu']:.3f} ms = "
          f"{r['cpu'] / r['c_cpu']:.2f} ×{floor_note} |")
    if "get" in summary:
        g = summary["get"]
        w(f"| GET: req/s per service core ≥ 2 × {BASELINE_GET_PER_CORE:,} (the 0.293 ms/GET measured when "
          f"the CPU target was set) | {verdict(g['per_core'] >= 2 * BASELINE_GET_PER_CORE)} | "
          f"{g['per_core']:,.0f} = {g['per_core'] / BASELINE_GET_PER_CORE:.2f} × |")
    rss = res["rss"]
    floor_rss = f"; the floor: {floor['peak_rss_kib'] / 1024:.1f} MiB" if floor else ""
    w(f"| peak RSS at {rss['concurrency']} connections ≤ 20 MiB | "
      f"{verdict(rss['peak_rss_kib'] <= rss_limit_kib)} | {rss['peak_rss_kib'] / 1024:.1f} MiB "
      f"({s['BENCH_RSS_OPS']}, {s['BENCH_RSS_DURATION'] or s['BENCH_DURATION']} s each){floor_rss} |")
    st = res["startup_ms"]
    w(f"| start-up to ready < 100 ms | {verdict(statistics.median(st) < 100)} | median "
      f"{statistics.median(st):.1f} ms of {len(st)} starts (min {min(st):.1f}, max {max(st):.1f}) |")
    w("")

    w(f"## Peak RSS at {rss['concurrency']} connections\n")
    w("| operation | req/s | p50 / p99 ms | peak RSS so far MiB |")
    w("|---|---:|---:|---:|")
    for op, r in rss["runs"].items():
        w(f"| {OPS[op][0]} | {r['rps']:.0f} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} | "
          f"{r['peak_rss_kib'] / 1024:.1f} |")
    w(f"\nVmRSS after these runs: {rss['rss_after_kib'] / 1024:.1f} MiB.\n")

    comp = res.get("compression")
    if comp:
        w(f"## Compression: a 100-book category page at {comp['concurrency']} connections\n")
        w("| Accept-Encoding | response bytes | req/s | p50 / p99 ms | CPU ms/req |")
        w("|---|---:|---:|---:|---:|")
        for enc, r in comp["runs"].items():
            w(f"| {enc} | {r['bytes']} | {r['rps']:.0f} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} | "
              f"{r['cpu_ms_per_req']:.3f} |")
        w("")

    w("## Start-up to ready\n")
    w("From spawning `bookstore serve` (table already migrated) to the first 200 from `/health/ready`, "
      "polled every 0.5 ms: " + ", ".join(f"{t:.1f}" for t in st) + " ms.\n")

    w("## Every run\n")
    w("| operation | side | run | req/s | p50 ms | p99 ms | CPU ms/req | engine CPU s (cores) | non-200 |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for op, runs in res["ops"].items():
        sides = dict(runs)
        if floor and op in floor["ops"]:
            sides["floor"] = floor["ops"][op]
        for side in ("service", "ceiling", "floor"):
            for i, r in enumerate(sides.get(side, []), 1):
                bad = r["errors"] if side == "ceiling" else (r["requests"] - r["ok"])
                engine = (f"{r['engine_cpu_s']:.1f} ({r['engine_cpu_s'] / duration:.2f})"
                          if "engine_cpu_s" in r else "")
                w(f"| {OPS[op][0]} | {side} | {i} | {r['rps']:.0f} | {r['p50_ms']:.2f} | "
                  f"{r['p99_ms']:.2f} | {r['cpu_ms_per_req']:.3f} | {engine} | {bad} |")
    w("")
    # Measurements that are not this run's (A/B comparisons, profiles), kept across regenerations.
    if os.path.exists(HISTORY):
        with open(HISTORY, encoding="utf-8") as f:
            w(f.read())
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--render":
        with open(sys.argv[2]) as f:
            sys.stdout.write(render(json.load(f)))
    else:
        Bench().run()
