"""make invoke EVENT=create|update|delete: the provider under `cargo lambda watch`, invoked with
`cargo lambda invoke --data-file events/EVENT.json`, against moto on 127.0.0.1.

The first call starts moto (left running in the background, so create → update → delete see one
AWS; `make invoke-stop` stops it) and creates the bucket the events' ResponseURL points at. Each call
runs the watcher with the provider's environment, invokes once, stops the watcher, and prints the
answer CloudFormation would read from the ResponseURL and what exists in IAM and KMS.
Ports: MOTO_PORT (default 5000, the events' ResponseURL port) and INVOKE_PORT (default 9000)."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import boto3  # noqa: E402

from harness import REGION, wait_port  # noqa: E402

STATE = ROOT / "target" / "invoke"
MOTO_PORT = int(os.environ.get("MOTO_PORT", "5000"))
INVOKE_PORT = int(os.environ.get("INVOKE_PORT", "9000"))
VENV = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv"))
MOTO_URL = f"http://127.0.0.1:{MOTO_PORT}"
# The provider as the template deploys it: its own role (outside the IAM path it writes) names its
# account, so the account cargo-lambda puts in the invoked function ARN does not matter.
PROVIDER_ENV = {
    "AWS_ENDPOINT_URL": MOTO_URL,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "SERVERLESS_ACCESS_ALLOW_LOOPBACK_RESPONSE_URL": "1",
    "SERVERLESS_ACCESS_PROVIDER_ROLE_ARN": "arn:aws:iam::123456789012:role/serverless-access-system/provider",
    "SERVERLESS_ACCESS_PROVIDER_STACK_NAME": "serverless-access",
}


def client(service):
    return boto3.client(service, endpoint_url=MOTO_URL, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def listening(port):
    import socket
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def ensure_moto():
    STATE.mkdir(parents=True, exist_ok=True)
    if not listening(MOTO_PORT):
        log = open(STATE / "moto.log", "a")
        proc = subprocess.Popen([str(VENV / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(MOTO_PORT)],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (STATE / "moto.pid").write_text(str(proc.pid))
        wait_port(MOTO_PORT)
        print(f"moto started on {MOTO_URL} (pid {proc.pid}; `make invoke-stop` stops it)")
    s3 = client("s3")
    try:
        s3.create_bucket(Bucket="cfn-responses")
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass


def stop_moto():
    pid_file = STATE / "moto.pid"
    if pid_file.exists():
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        except ProcessLookupError:
            pass
        pid_file.unlink()
        print("moto stopped")


def invoke(event_name):
    event = json.loads((ROOT / "events" / f"{event_name}.json").read_text())
    event["ResponseURL"] = event["ResponseURL"].replace("127.0.0.1:5000", f"127.0.0.1:{MOTO_PORT}")
    bucket, key = event["ResponseURL"].split(f"127.0.0.1:{MOTO_PORT}/", 1)[1].split("?")[0].split("/", 1)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(event, f)
    cargo_lambda = [str(VENV / "bin" / "cargo-lambda"), "lambda"]
    env = {**os.environ, **PROVIDER_ENV}
    watch_log = open(STATE / "watch.log", "a")
    watcher = subprocess.Popen(cargo_lambda + ["watch", "--invoke-address", "127.0.0.1", "--invoke-port", str(INVOKE_PORT)],
                               cwd=ROOT, env=env, stdout=watch_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_port_listening(INVOKE_PORT, watcher)
        out = subprocess.run(cargo_lambda + ["invoke", "--invoke-address", "127.0.0.1", "--invoke-port", str(INVOKE_PORT),
                                             "--data-file", f.name, "serverless-access"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            print(out.stdout, out.stderr, file=sys.stderr)
            return 1
    finally:
        stop_watcher(watcher)
        os.unlink(f.name)
    answer = json.loads(client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    print(f"=== {event_name}: CloudFormation receives ===")
    print(json.dumps(answer, indent=2))
    show_state()
    return 0 if answer["Status"] == "SUCCESS" and answer["RequestId"] == event["RequestId"] else 1


def wait_port_listening(port, proc, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if listening(port):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"cargo lambda watch exited ({proc.returncode}); see {STATE / 'watch.log'}")
        time.sleep(0.1)
    raise RuntimeError(f"cargo lambda watch did not listen on {port}")


def stop_watcher(watcher):
    """The function runs in its own process group under the watcher: stop both."""
    children = subprocess.run(["pgrep", "-P", str(watcher.pid)], capture_output=True, text=True).stdout.split()
    watcher.terminate()
    try:
        watcher.wait(10)
    except subprocess.TimeoutExpired:
        watcher.kill()
    for pid in children:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def show_state():
    iam, kms = client("iam"), client("kms")
    print("--- IAM under /serverless-access/ ---")
    for g in iam.list_groups(PathPrefix="/serverless-access/")["Groups"]:
        print(f"group  {g['GroupName']}")
    for r in iam.list_roles(PathPrefix="/serverless-access/")["Roles"]:
        print(f"role   {r['RoleName']}")
    for p in iam.list_policies(Scope="Local", PathPrefix="/serverless-access/")["Policies"]:
        print(f"policy {p['PolicyName']}")
    for k in kms.list_keys()["Keys"]:
        for g in kms.list_grants(KeyId=k["KeyId"])["Grants"]:
            if g.get("Name", "").startswith("serverless-access/"):
                print(f"grant  {g['Name']}  ops={g['Operations']}")


def main(argv):
    if argv[1:] == ["stop"]:
        stop_moto()
        return 0
    if len(argv) != 2 or argv[1] not in ("create", "update", "delete"):
        print("usage: make invoke EVENT=create|update|delete (or make invoke-stop)", file=sys.stderr)
        return 2
    ensure_moto()
    return invoke(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
