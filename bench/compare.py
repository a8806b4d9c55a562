"""A/B comparison of service variants, for deciding whether a change pays (bench/compare.sh).

Each variant is a binary plus optional environment (for example LD_PRELOAD of another allocator,
or a setting; BENCH_TOKEN sets the bearer token the variant's writes send instead). Variants are measured in interleaved rounds (A B C A B C ...) against one engine
and one data set, so that the machine's drift hits every variant alike; the report gives the
median of each variant's rounds and its ratio to the first variant.

    python3 bench/compare.py NAME=BINARY[,VAR=VALUE...] NAME=BINARY[,VAR=VALUE...] ...

Settings are bench/bench.py's BENCH_* variables (runs, duration, warm-up, concurrency, ops,
placement), plus BENCH_COMPARE_OUT (default bench/out/compare.json).
"""

import json
import os
import statistics
import sys

import bench


class Variant:
    def __init__(self, spec):
        name, _, rest = spec.partition("=")
        parts = rest.split(",")
        self.name, self.bin = name, os.path.abspath(parts[0])
        self.env = dict(p.split("=", 1) for p in parts[1:] if p)
        # For the load, not the service: the bearer token of this variant's writes.
        self.token = self.env.pop("BENCH_TOKEN", bench.TOKEN)
        if not name or not os.access(self.bin, os.X_OK):
            bench.die(f"bad variant {spec!r}: want NAME=BINARY[,VAR=VALUE...] with an executable BINARY")


class Compare(bench.Bench):
    compares = True
    def __init__(self, variants):
        os.environ.setdefault("BENCH_BIN", variants[0].bin)
        super().__init__()
        self.variants = variants
        self.current = variants[0]

    def spawn_service(self, logf):
        env = dict(self.env, **self.current.env)
        argv = bench.pinned(self.service_cpu, [self.current.bin, "serve"])
        return bench.subprocess.Popen(argv, env=env, stdout=logf, stderr=bench.subprocess.STDOUT)

    def round(self, variant):
        self.current = variant
        self.token = variant.token
        self.created = []  # each variant deletes only the books it created
        self.launch(f"service-{variant.name}.log")
        try:
            results = {}
            for op in self.ops:
                conc = self.concurrency_for(op)
                self.oha(op, conc, self.warmup)
                bench.reset_peak_rss(self.service.pid)
                r = self.oha(op, conc, self.duration)
                results[op] = r
            bench.reset_peak_rss(self.service.pid)
            for op in self.ops:
                self.oha(op, self.rss_concurrency, self.rss_duration)
            results["peak_rss_kib"] = bench.status_kib(self.service.pid, "VmHWM")
            return results
        finally:
            self.stop(self.service)

    def compare(self):
        self.pin_engine()
        self.prepare_data()
        rounds = {v.name: [] for v in self.variants}
        for i in range(self.runs):
            for v in self.variants:
                r = self.round(v)
                rounds[v.name].append(r)
                bench.log(f"round {i + 1}/{self.runs} {v.name}: " + ", ".join(
                    f"{op} {r[op]['cpu_ms_per_req']:.3f} ms/req {r[op]['rps']:.0f} req/s" for op in self.ops)
                    + f", peak RSS {r['peak_rss_kib'] / 1024:.1f} MiB")
        path = os.environ.get("BENCH_COMPARE_OUT", os.path.join(self.out, "compare.json"))
        with open(path, "w") as f:
            json.dump({"variants": {v.name: {"bin": v.bin, "env": v.env} for v in self.variants},
                       "settings": self.results["settings"], "rounds": rounds}, f, indent=2)
        print(render(self.variants, rounds, self.ops))

def render(variants, rounds, ops):
    def med(name, op, key):
        return statistics.median(r[op][key] for r in rounds[name])
    base = variants[0].name
    lines = ["| variant | " + " | ".join(f"{op} CPU ms/req | {op} req/s | {op} p50 / p99 ms"
                                       for op in ops) + " | peak RSS MiB |",
             "|---|" + "---:|---:|---:|" * len(ops) + "---:|"]
    for v in variants:
        cells = []
        for op in ops:
            cpu, rps = med(v.name, op, "cpu_ms_per_req"), med(v.name, op, "rps")
            ratio = cpu / med(base, op, "cpu_ms_per_req")
            p50, p99 = med(v.name, op, "p50_ms"), med(v.name, op, "p99_ms")
            cells.append(f"{cpu:.3f} ({ratio:.2f}×) | {rps:,.0f} | {p50:.2f} / {p99:.2f}")
        rss = statistics.median(r["peak_rss_kib"] for r in rounds[v.name]) / 1024
        lines.append(f"| {v.name} | " + " | ".join(cells) + f" | {rss:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        bench.die(__doc__)
    Compare([Variant(s) for s in sys.argv[1:]]).compare()
