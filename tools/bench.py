"""make bench: Create, no-op Update and Delete wall times against moto on loopback, for 1, 10 and
100 functions (each with a role and a grant), plus the release binary's size. moto answers in a few
milliseconds; the latency proxy of issue 5 (50 ms per call) is not built yet."""
import json
import os
import platform
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from harness import Cfn, Moto, Provider, RuntimeApi, reset_moto  # noqa: E402

LOGS = ROOT / "target" / "bench"


def applied(log, request_id):
    for line in reversed(log.read_text().splitlines()):
        rec = json.loads(line)
        if rec.get("span", {}).get("RequestId") == request_id and rec.get("fields", {}).get("message") == "reconciled":
            return rec["fields"]["applied"]
    return None


def main():
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / "provider.log"
    log.write_text("")
    moto = Moto(LOGS)
    runtime = RuntimeApi()
    provider = Provider(moto, runtime, log)
    rows = []
    try:
        for n in (1, 10, 100):
            reset_moto(moto)
            cfn = Cfn(moto, runtime)
            key = moto.client("kms").create_key()["KeyMetadata"]["Arn"]
            props = {"ServiceName": "bench", "Stage": "b", "KmsKeyArn": key,
                     "Functions": [{"Name": f"f{i}", "Kms": ["Decrypt"]} for i in range(n)]}
            timings = []
            for kind in ("Create", "Update", "Delete"):
                ev = cfn.event(kind, props, **({} if kind == "Create" else {"physical_id": pid}),
                               **({"old_props": props} if kind == "Update" else {}))
                t = time.perf_counter()
                answer = cfn.send(ev, timeout_s=600)
                timings.append((time.perf_counter() - t, applied(log, ev["RequestId"]), answer["Status"]))
                pid = answer["PhysicalResourceId"]
            rows.append((n, timings))
    finally:
        provider.stop()
        moto.stop()
    binary = Path(os.environ.get("SERVERLESS_ACCESS_BIN", ROOT / "target" / "release" / "serverless-access"))
    zpath = LOGS / "bootstrap.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(binary, "bootstrap")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, moto on loopback (no added latency)")
    print("| functions | Create s (writes) | no-op Update s (writes) | Delete s (writes) |")
    print("|---|---|---|---|")
    for n, t in rows:
        cells = [f"{s:.2f} ({w}) {'' if st == 'SUCCESS' else st}".strip() for s, w, st in t]
        print(f"| {n} | " + " | ".join(cells) + " |")
    print(f"binary: {binary.stat().st_size / 1e6:.1f} MB stripped, {zpath.stat().st_size / 1e6:.1f} MB zipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
