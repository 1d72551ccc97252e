"""make bench: the provider under the Runtime API emulator, its AWS calls through a proxy that adds
a fixed latency to every call in front of moto. Reports, for 1, 10, 100 and 500 functions (each with
a role and a grant): Create, no-op Update and Delete wall time with the AWS calls made (reads/writes),
the same Create at concurrency 1, a concurrency sweep at 100 functions, peak RSS, cold start, and
the binary's stripped and zipped size; and a Create whose IAM writes are throttled above a fixed rate
(the proxy imitates IAM's account-wide limit), against the bound that rate sets, with the number of
throttled attempts. A program, not a test: it prints figures, it asserts nothing."""
import argparse
import json
import os
import platform
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from harness import Cfn, Moto, Provider, RuntimeApi, reset_moto  # noqa: E402
from proxy import FaultProxy, RateLimit  # noqa: E402

LOGS = ROOT / "target" / "bench"


class Bench:
    def __init__(self, latency):
        self.moto = Moto(LOGS)
        self.proxy = FaultProxy(self.moto.port, latency_s=latency)

    def provider(self, concurrency):
        runtime = RuntimeApi()
        provider = Provider(self.moto, runtime, LOGS / "provider.log",
                            {"SERVERLESS_ACCESS_CONCURRENCY": str(concurrency)}, endpoint=self.proxy.url)
        deadline = time.time() + 30
        while runtime.first_poll is None and time.time() < deadline:
            time.sleep(0.005)
        cold_start = runtime.first_poll - provider.started
        return runtime, provider, cold_start

    def run(self, cfn, kind, props, pid=None):
        self.proxy.reset_counts()
        extra = {} if kind == "Create" else {"physical_id": pid}
        if kind == "Update":
            extra["old_props"] = props
        ev = cfn.event(kind, props, **extra)
        t = time.perf_counter()
        answer = cfn.send(ev, timeout_s=900, deadline_s=900)
        seconds = time.perf_counter() - t
        reads, writes = self.proxy.counts()
        body = len(json.dumps(answer))
        return {"s": seconds, "reads": reads, "writes": writes, "status": answer["Status"], "pid": answer["PhysicalResourceId"], "bytes": body}

    def cycle(self, runtime, n, create_only=False):
        reset_moto(self.moto)
        cfn = Cfn(self.moto, runtime)
        key = self.moto.client("kms").create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
        props = {"ServiceName": "bench", "Stage": "b", "KmsKeyArn": key,
                 "Functions": [{"Name": f"f{i}", "Kms": ["Decrypt"]} for i in range(n)]}
        create = self.run(cfn, "Create", props)
        if create_only:
            return create, None, None
        update = self.run(cfn, "Update", props, create["pid"])
        delete = self.run(cfn, "Delete", props, create["pid"])
        return create, update, delete

    def stop(self):
        self.proxy.stop()
        self.moto.stop()


def fmt(r):
    flag = "" if r["status"] == "SUCCESS" else f" {r['status']}"
    return f"{r['s']:.2f} s ({r['reads']} r / {r['writes']} w){flag}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--sizes", default="1,10,100,500")
    ap.add_argument("--sweep", default="1,4,8,16,32")
    ap.add_argument("--limit-per-s", type=float, default=10)
    ap.add_argument("--limited-functions", type=int, default=60)
    ap.add_argument("--bursts", default="1,10", help="token-bucket capacities of the imitated limit: 1 (no burst) and 10 (a one-second burst at 10/s)")
    ap.add_argument("--only-limited", action="store_true", help="run the rate-limited Create alone")
    args = ap.parse_args()
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / "provider.log").write_text("")
    sizes = [int(x) for x in args.sizes.split(",")]
    bench = Bench(args.latency_ms / 1000)
    out = []
    rows, serial, sweep, rss_kb, cold = [], {}, [], 0, 0.0
    try:
        if not args.only_limited:
            runtime, provider, cold = bench.provider(concurrency=16)
            rows = [(n, *bench.cycle(runtime, n)) for n in sizes]
            rss_kb = provider.peak_rss_kb()
            provider.stop()
            runtime1, provider1, _ = bench.provider(concurrency=1)
            serial = {n: bench.cycle(runtime1, n, create_only=True)[0] for n in sizes}
            provider1.stop()
            for c in [int(x) for x in args.sweep.split(",")]:
                rt, pv, _ = bench.provider(concurrency=c)
                sweep.append((c, bench.cycle(rt, 100, create_only=True)[0]))
                pv.stop()
        rt, pv, _ = bench.provider(concurrency=16)
        # The same Create unthrottled first: the time its reads and phases take regardless of the limit.
        free = bench.cycle(rt, args.limited_functions, create_only=True)[0]
        pv.stop()
        limited_runs = []
        for burst in [float(b) for b in args.bursts.split(",")]:
            # A fresh provider each time: the pacer remembers what the last limit taught it.
            rt, pv, _ = bench.provider(concurrency=16)
            bench.proxy.iam_write_limit = limit = RateLimit(args.limit_per_s, burst=burst)
            limited = bench.cycle(rt, args.limited_functions, create_only=True)[0]
            bench.proxy.iam_write_limit = None
            pv.stop()
            limited_runs.append((burst, limit, limited))
            if limit.events:
                t0 = limit.events[0][0]
                (LOGS / f"limited-writes-burst{burst:g}.txt").write_text("".join(f"{t - t0:.3f} {int(ok)}\n" for t, ok in limit.events))
    finally:
        bench.stop()
    binary = Path(os.environ.get("SERVERLESS_ACCESS_BIN", ROOT / "target" / "release" / "serverless-access"))
    zpath = LOGS / "bootstrap.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(binary, "bootstrap")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    out.append(f"Machine: {platform.machine()}, {os.cpu_count()} cores ({cpu}); moto {args.latency_ms:.0f} ms per AWS call through the proxy; default concurrency 16.")
    if rows:
        out.append("")
        out.append("| functions | Create | no-op Update | Delete | Create at concurrency 1 | answer bytes |")
        out.append("|---|---|---|---|---|---|")
        for n, c, u, d in rows:
            out.append(f"| {n} | {fmt(c)} | {fmt(u)} | {fmt(d)} | {fmt(serial[n])} | {c['bytes']} |")
        out.append("")
        out.append("Concurrency sweep, Create of 100 functions: " + ", ".join(f"{c}: {r['s']:.2f} s" for c, r in sweep))
    for burst, limit, limited in limited_runs:
        bound = limit.allowed / args.limit_per_s
        bucket = "no burst" if burst <= 1 else f"a burst of {burst:g}"
        out.append(f"Rate-limited Create of {args.limited_functions} functions (IAM writes above {args.limit_per_s:.0f}/s throttled, {bucket}): "
                   f"{limited['s']:.1f} s for {limit.allowed} IAM writes, bound {bound:.1f} s ({100 * bound / limited['s']:.0f}% of the bound), "
                   f"{limit.throttled} throttled attempts ({100 * limit.throttled / max(1, limit.allowed):.0f}% of the writes), {limited['status']}; "
                   f"the same Create unthrottled: {free['s']:.1f} s.")
    if rows:
        out.append(f"Peak RSS of the function process: {rss_kb / 1024:.1f} MB. Cold start (process start to first Runtime API poll): {cold * 1000:.0f} ms.")
    out.append(f"Binary: {binary.stat().st_size / 1e6:.1f} MB stripped, {zpath.stat().st_size / 1e6:.1f} MB zipped.")
    print("\n".join(out))
    (LOGS / "results.md").write_text("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
