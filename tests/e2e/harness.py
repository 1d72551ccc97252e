"""Test harness: moto_server, a Lambda Runtime API emulator, the provider binary, and helpers
that build CloudFormation requests with real pre-signed S3 ResponseURLs and read the answers back."""
import json
import os
import queue
import socket
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import urllib.request

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:serverless-access"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/orders-access/5b3e0c40-aaaa-bbbb-cccc-000000000001"
RESPONSE_BUCKET = "cfn-responses"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


class Moto:
    def __init__(self, log_dir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        exe = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "moto_server"
        self.proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=open(log_dir / "moto.log", "w"), stderr=subprocess.STDOUT)
        wait_port(self.port)

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class RuntimeApi:
    """The Lambda Runtime API, as AWS serves it to a provided.al2023 function."""

    def __init__(self):
        self.events = queue.Queue()
        self.results = {}
        self.first_poll = None
        self.cond = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    self.send_error(404)
                    return
                api.first_poll = api.first_poll or time.time()
                req_id, body, deadline_ms = api.events.get()
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", req_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                payload = self.rfile.read(length)
                parts = self.path.split("/")
                # /2018-06-01/runtime/invocation/{id}/response|error
                if len(parts) >= 6 and parts[3] == "invocation":
                    with api.cond:
                        api.results[parts[4]] = (parts[5], payload)
                        api.cond.notify_all()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event, timeout_s=120, deadline_s=None):
        req_id = str(uuid.uuid4())
        deadline_ms = int((time.time() + (deadline_s or timeout_s)) * 1000)
        self.last_deadline_ms = deadline_ms
        self.events.put((req_id, event, deadline_ms))
        end = time.time() + timeout_s
        with self.cond:
            while req_id not in self.results:
                left = end - time.time()
                if left <= 0:
                    raise TimeoutError("the function did not finish the invocation")
                self.cond.wait(left)
            kind, payload = self.results.pop(req_id)
        return kind, json.loads(payload or b"null")


class Provider:
    """The release binary, polling the emulator like Lambda's runtime would run it."""

    def __init__(self, moto, runtime, log_path, extra_env=None, endpoint=None, access_key="testing"):
        binary = os.environ.get("SERVERLESS_ACCESS_BIN", str(ROOT / "target" / "release" / "serverless-access"))
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime.port}",
            "AWS_LAMBDA_FUNCTION_NAME": "serverless-access",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/serverless-access",
            "AWS_LAMBDA_LOG_STREAM_NAME": "test",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint or moto.url,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": "testing",
            "SERVERLESS_ACCESS_ALLOW_LOOPBACK_RESPONSE_URL": "1",
            "RUST_BACKTRACE": "0",
        }
        env.update(extra_env or {})
        self.log = open(log_path, "a")
        self.started = time.time()
        self.proc = subprocess.Popen([binary], env=env, stdout=self.log, stderr=self.log)

    def peak_rss_kb(self):
        """Peak resident memory of the function process so far (VmHWM)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return None

    def stop(self):
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()


class Cfn:
    """Builds requests the way CloudFormation does and reads the answers from S3."""

    def __init__(self, moto, runtime):
        self.moto = moto
        self.runtime = runtime
        self.s3 = moto.client("s3")
        try:
            self.s3.create_bucket(Bucket=RESPONSE_BUCKET)
        except self.s3.exceptions.BucketAlreadyOwnedByYou:
            pass

    def response_url(self, key):
        return self.s3.generate_presigned_url("put_object", Params={"Bucket": RESPONSE_BUCKET, "Key": key}, ExpiresIn=7200)

    def event(self, request_type, props, physical_id=None, old_props=None, logical_id="Access", stack_id=STACK_ID,
              resource_type="Custom::ServerlessAccess", response_url=None):
        request_id = str(uuid.uuid4())
        props = dict(props)
        props.setdefault("ServiceToken", FUNCTION_ARN)
        ev = {
            "RequestType": request_type,
            "ServiceToken": FUNCTION_ARN,
            "ResponseURL": response_url or self.response_url(f"answers/{request_id}"),
            "StackId": stack_id,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": props,
        }
        if physical_id is not None:
            ev["PhysicalResourceId"] = physical_id
        if old_props is not None:
            ev["OldResourceProperties"] = old_props
        return ev

    def answer(self, event):
        key = f"answers/{event['RequestId']}"
        try:
            obj = self.s3.get_object(Bucket=RESPONSE_BUCKET, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return None
        return json.loads(obj["Body"].read())

    def send(self, event, **kw):
        """Invokes the provider with `event`; returns CloudFormation's answer (or None)."""
        self.runtime.invoke(event, **kw)
        return self.answer(event)

    def create(self, props, **kw):
        return self.send(self.event("Create", props, **kw))

    def update(self, physical_id, props, old_props, **kw):
        return self.send(self.event("Update", props, physical_id=physical_id, old_props=old_props, **kw))

    def delete(self, physical_id, props, **kw):
        return self.send(self.event("Delete", props, physical_id=physical_id, **kw))


def iam_snapshot(iam, path_prefix="/serverless-access/"):
    """Everything under the provider's path: groups (policies, attachments, members), roles
    (trust, boundary, tags, policies), managed policies (default document)."""
    snap = {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}
    for page in iam.get_paginator("list_groups").paginate(PathPrefix=path_prefix):
        for g in page["Groups"]:
            n = g["GroupName"]
            snap["groups"][n] = {
                "path": g["Path"],
                "inline": {p: iam.get_group_policy(GroupName=n, PolicyName=p)["PolicyDocument"]
                           for p in iam.list_group_policies(GroupName=n)["PolicyNames"]},
                "attached": sorted(a["PolicyArn"] for a in iam.list_attached_group_policies(GroupName=n)["AttachedPolicies"]),
                "users": sorted(u["UserName"] for u in iam.get_group(GroupName=n)["Users"]),
            }
    for page in iam.get_paginator("list_roles").paginate(PathPrefix=path_prefix):
        for r in page["Roles"]:
            n = r["RoleName"]
            full = iam.get_role(RoleName=n)["Role"]
            snap["deployment_roles" if n.endswith(".deploy") else "roles"][n] = {
                "path": r["Path"],
                "arn": r["Arn"],
                "id": full["RoleId"],
                "trust": full["AssumeRolePolicyDocument"],
                "boundary": full.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"),
                "tags": {t["Key"]: t["Value"] for t in full.get("Tags", [])},
                "inline": {p: iam.get_role_policy(RoleName=n, PolicyName=p)["PolicyDocument"]
                           for p in iam.list_role_policies(RoleName=n)["PolicyNames"]},
                "attached": sorted(a["PolicyArn"] for a in iam.list_attached_role_policies(RoleName=n)["AttachedPolicies"]),
            }
    for page in iam.get_paginator("list_policies").paginate(Scope="Local", PathPrefix=path_prefix):
        for p in page["Policies"]:
            v = iam.get_policy_version(PolicyArn=p["Arn"], VersionId=p["DefaultVersionId"])
            snap["policies"][p["PolicyName"]] = {"arn": p["Arn"], "document": v["PolicyVersion"]["Document"]}
    return snap


def our_grants(kms, key_id):
    grants = []
    for page in kms.get_paginator("list_grants").paginate(KeyId=key_id):
        grants.extend(g for g in page["Grants"] if g.get("Name", "").startswith("serverless-access/"))
    return grants


def reset_moto(moto):
    urllib.request.urlopen(urllib.request.Request(f"{moto.url}/moto-api/reset", method="POST")).read()
