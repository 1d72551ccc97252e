"""The authorizing proxy in front of moto for a real deployer (osls with serverless-localstack).

Every request the CLI signs is decoded into what IAM authorizes — the action, the resource ARN and
the condition keys the Service Authorization Reference lists for it — and evaluated with iam_eval
against the policies of the IAM user whose access key signed it (its groups' inline and attached
policies, read from moto). A refused request is answered with the service's AccessDenied and
recorded. It fails closed: a request it cannot attribute to one of its users (unsigned, or signed
with a key it does not know) or cannot decode is refused and recorded too, never forwarded; a
pre-signed URL is attributed to the key in its query (SigV4's X-Amz-Credential, S3's SigV2
AWSAccessKeyId).

Decoded (REST and query APIs as the AWS SDK for JavaScript v2 sends them, S3 path-style):
- CloudFormation: the stack named by StackName (`stack/{name}/*`), `cloudformation:RoleArn` from
  RoleARN, and the `iam:PassRole` of that role to `cloudformation.amazonaws.com` that CloudFormation
  checks; ValidateTemplate on `*`.
- S3: bucket and object operations by method, sub-resource and key (`s3:prefix` on listings,
  `s3:ResourceAccount`); DeleteObjects as `s3:DeleteObject` / `s3:DeleteObjectVersion` per key.
- Lambda: function operations on the function's ARN (a Qualifier appended), `iam:PassRole` of a Role
  to `lambda.amazonaws.com`, `lambda:SubnetIds` / `lambda:SecurityGroupIds` from a VpcConfig.
- CloudWatch Logs on the log group; SSM GetParameter on the parameter; CloudWatch metrics on `*`;
  ECR DescribeRepositories on the repository.
- STS GetCallerIdentity needs no permission.

Workarounds for moto, in the test setup only (the CLI's requests are authorized as sent): a
TemplateURL is replaced by the template's body read from moto's S3 (moto cannot fetch the local
URL), and DeleteChangeSet of a change set moto does not know answers success as AWS does for a
deleted one.
"""
import http.client
import json
import re
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

from harness import ACCOUNT, REGION
from iam_eval import ALLOW, Request, evaluate

STACK_WRITES = {"CreateStack", "UpdateStack", "CreateChangeSet", "DeleteStack"}


class Undecodable(Exception):
    pass


@dataclass
class Decision:
    user: str
    action: str
    resource: str
    context: dict
    allowed: bool


def _service(headers, query=""):
    """(access key, service) of a signed request: SigV4's Authorization header or the X-Amz-Credential
    query parameter of a pre-signed URL; S3's signature version 2 (`Authorization: AWS key:signature`,
    or a pre-signed URL's AWSAccessKeyId); (None, None) when unsigned."""
    auth = headers.get("Authorization", "") or ""
    m = re.search(r"Credential=([^/]+)/\d+/([^/]+)/([^/]+)/", auth)
    if m:
        return m.group(1), m.group(3)
    m = re.fullmatch(r"AWS ([^:\s]+):\S+", auth.strip())
    if m:
        return m.group(1), "s3"
    q = urllib.parse.parse_qs(query)
    m = re.fullmatch(r"([^/]+)/\d+/([^/]+)/([^/]+)/aws4_request", q.get("X-Amz-Credential", [""])[0])
    if m:
        return m.group(1), m.group(3)
    if q.get("AWSAccessKeyId") and q.get("Signature"):
        return q["AWSAccessKeyId"][0], "s3"
    return None, None


def _form(body):
    return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(errors="replace"), keep_blank_values=True).items()}


def _stack_arn(name):
    if name.startswith("arn:"):
        return name
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/00000000-0000-0000-0000-000000000000"


def _function_arn(name, qualifier=None):
    name = urllib.parse.unquote(name)
    if name.startswith("arn:"):
        arn = name
    else:
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier and arn.count(":") == 6 else arn


def decode_cloudformation(form):
    action = form.get("Action", "")
    if action in ("ValidateTemplate", "ListStacks", "DescribeStacks") and not form.get("StackName"):
        return [(f"cloudformation:{action}", "*", {})]
    if "StackName" not in form:
        raise Undecodable(f"cloudformation:{action} without StackName")
    ctx = {}
    requests = []
    if action in STACK_WRITES and form.get("RoleARN"):
        ctx["cloudformation:RoleArn"] = form["RoleARN"]
        requests.append(("iam:PassRole", form["RoleARN"], {"iam:PassedToService": "cloudformation.amazonaws.com"}))
    return [(f"cloudformation:{action}", _stack_arn(form["StackName"]), ctx)] + requests


BUCKET_SUBRESOURCES = {
    # sub-resource: (GET, PUT, DELETE)
    "location": ("s3:GetBucketLocation", None, None),
    "versioning": ("s3:GetBucketVersioning", "s3:PutBucketVersioning", None),
    "policy": ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"),
    "encryption": ("s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration", "s3:PutEncryptionConfiguration"),
    "tagging": ("s3:GetBucketTagging", "s3:PutBucketTagging", "s3:PutBucketTagging"),
    "publicAccessBlock": ("s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    "ownershipControls": ("s3:GetBucketOwnershipControls", "s3:PutBucketOwnershipControls", "s3:PutBucketOwnershipControls"),
    "acl": ("s3:GetBucketAcl", "s3:PutBucketAcl", None),
}


def decode_s3(method, path, query, body):
    parts = urllib.parse.unquote(path.lstrip("/")).split("/", 1)
    bucket, key = parts[0], (parts[1] if len(parts) > 1 else "")
    q = urllib.parse.parse_qs(query, keep_blank_values=True)
    base = {"s3:ResourceAccount": ACCOUNT}
    if not bucket:
        raise Undecodable("s3 request without a bucket")
    arn = f"arn:aws:s3:::{bucket}"
    if key:
        if method == "PUT":
            return [("s3:PutObject", f"{arn}/{key}", base)]
        if method in ("GET", "HEAD"):
            return [("s3:GetObjectVersion" if "versionId" in q else "s3:GetObject", f"{arn}/{key}", base)]
        if method == "DELETE":
            return [("s3:DeleteObjectVersion" if "versionId" in q else "s3:DeleteObject", f"{arn}/{key}", base)]
        raise Undecodable(f"s3 {method} on an object")
    if method == "POST" and "delete" in q:
        out = []
        for obj in ET.fromstring(body).iter():
            if obj.tag.endswith("Object"):
                k = next((c.text for c in obj if c.tag.endswith("Key")), "")
                versioned = any(c.tag.endswith("VersionId") for c in obj)
                out.append(("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", f"{arn}/{k}", base))
        return out
    for sub, (get, put, delete) in BUCKET_SUBRESOURCES.items():
        if sub in q:
            action = {"GET": get, "PUT": put, "DELETE": delete}.get(method)
            if not action:
                raise Undecodable(f"s3 {method} ?{sub}")
            return [(action, arn, base)]
    if "versions" in q:
        ctx = dict(base, **({"s3:prefix": q["prefix"][0]} if "prefix" in q else {}))
        return [("s3:ListBucketVersions", arn, ctx)]
    if method in ("GET", "HEAD"):
        ctx = dict(base, **({"s3:prefix": q["prefix"][0]} if "prefix" in q else {}))
        return [("s3:ListBucket", arn, ctx)]
    if method == "PUT":
        return [("s3:CreateBucket", arn, base)]
    if method == "DELETE":
        return [("s3:DeleteBucket", arn, base)]
    raise Undecodable(f"s3 {method} {path}?{query}")


def decode_lambda(method, path, query, body):
    q = urllib.parse.parse_qs(query)
    qualifier = q.get("Qualifier", [None])[0]
    m = re.fullmatch(r"/(?:2015-03-31|2016-08-19|2017-10-31|2019-09-25|2021-10-31)/functions/?([^/]*)(/.*)?", path)
    if not m:
        raise Undecodable(f"lambda {method} {path}")
    name, rest = m.group(1), m.group(2) or ""
    if not name:
        if method == "GET":
            return [("lambda:ListFunctions", "*", {})]
        req = json.loads(body or b"{}")
        return [("lambda:CreateFunction", _function_arn(req["FunctionName"]), {})] + _function_config(req)
    arn = _function_arn(name, qualifier)
    table = {
        ("GET", ""): "lambda:GetFunction",
        ("DELETE", ""): "lambda:DeleteFunction",
        ("GET", "/configuration"): "lambda:GetFunctionConfiguration",
        ("PUT", "/configuration"): "lambda:UpdateFunctionConfiguration",
        ("PUT", "/code"): "lambda:UpdateFunctionCode",
        ("POST", "/invocations"): "lambda:InvokeFunction",
        ("GET", "/versions"): "lambda:ListVersionsByFunction",
        ("POST", "/versions"): "lambda:PublishVersion",
        ("GET", "/policy"): "lambda:GetPolicy",
    }
    action = table.get((method, rest))
    if not action:
        raise Undecodable(f"lambda {method} {path}")
    out = [(action, arn, {})]
    if action == "lambda:UpdateFunctionConfiguration":
        out += _function_config(json.loads(body or b"{}"))
        vpc = json.loads(body or b"{}").get("VpcConfig") or {}
        if vpc:
            out[0] = (action, arn, {"lambda:SubnetIds": vpc.get("SubnetIds", []), "lambda:SecurityGroupIds": vpc.get("SecurityGroupIds", [])})
    return out


def _function_config(req):
    """What Lambda checks with the caller's rights for a function's configuration."""
    return [("iam:PassRole", req["Role"], {"iam:PassedToService": "lambda.amazonaws.com"})] if req.get("Role") else []


def decode_json(service, target, body):
    req = json.loads(body or b"{}")
    op = target.split(".")[-1]
    if service == "logs":
        if op == "DescribeLogGroups":
            return [("logs:DescribeLogGroups", "*", {})]
        group = req.get("logGroupName") or req.get("logGroupIdentifier")
        if not group:
            raise Undecodable(f"logs:{op} without a log group")
        return [(f"logs:{op}", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}", {})]
    if service == "ecr" and op == "DescribeRepositories":
        return [(f"ecr:{op}", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}", {}) for name in req.get("repositoryNames", ["*"])]
    if service == "ssm" and op in ("GetParameter", "PutParameter"):
        return [(f"ssm:{op}", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{req['Name'].lstrip('/')}", {})]
    raise Undecodable(f"{service}:{op}")


class DeployerProxy:
    """Forwards to moto on `upstream_port` what the signing user may do; `users`: access key → user
    name. It fails closed: a request it cannot attribute to one of these users (unsigned, or signed
    with another key) or cannot decode is refused with AccessDenied and recorded in `refusals`; the
    test's own clients talk to moto directly. `authorized` counts the requests it let through after
    checking them, `expected` holds the refusals a test provoked on purpose."""

    def __init__(self, upstream_port, users):
        self.upstream_port = upstream_port
        self.users = dict(users)
        self.decisions = []
        self.undecodable = []
        self.unattributed = []
        self.expected = []
        self.authorized = 0
        self.seen = []
        self.lock = threading.Lock()
        self.iam = boto3.client("iam", endpoint_url=f"http://127.0.0.1:{upstream_port}", region_name=REGION,
                                aws_access_key_id="root", aws_secret_access_key="root")
        self.s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{upstream_port}", region_name=REGION,
                               aws_access_key_id="root", aws_secret_access_key="root")
        proxy = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
                status, headers, data = proxy.handle(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()

    # --- the user's policies -------------------------------------------------------------------
    def policies(self, user):
        docs = []
        for g in self.iam.list_groups_for_user(UserName=user)["Groups"]:
            name = g["GroupName"]
            for p in self.iam.list_group_policies(GroupName=name)["PolicyNames"]:
                docs.append(self.iam.get_group_policy(GroupName=name, PolicyName=p)["PolicyDocument"])
            for a in self.iam.list_attached_group_policies(GroupName=name)["AttachedPolicies"]:
                v = self.iam.get_policy(PolicyArn=a["PolicyArn"])["Policy"]["DefaultVersionId"]
                docs.append(self.iam.get_policy_version(PolicyArn=a["PolicyArn"], VersionId=v)["PolicyVersion"]["Document"])
        return docs

    # --- one request ---------------------------------------------------------------------------
    def decode(self, service, method, path, query, headers, body):
        if service == "cloudformation":
            return decode_cloudformation(_form(body))
        if service == "s3":
            return decode_s3(method, path, query, body)
        if service == "lambda":
            return decode_lambda(method, path, query, body)
        if service in ("logs", "ssm", "ecr"):
            return decode_json(service, headers.get("X-Amz-Target", ""), body)
        if service == "monitoring":
            return [(f"cloudwatch:{_form(body).get('Action', '')}", "*", {})]
        raise Undecodable(f"{service} {method} {path}")

    def handle(self, method, raw_path, headers, body):
        path, _, query = raw_path.partition("?")
        key, service = _service(headers, query)
        user = self.users.get(key)
        with self.lock:
            self.seen.append((user, service, method, raw_path))
        if user is None:
            why = "unsigned request" if key is None else f"unknown access key {key}"
            with self.lock:
                self.unattributed.append((key, service, method, raw_path, why))
            return self.denied(service, f"unattributed request ({why}): refused by the authorizing layer")
        if service == "sts" and b"GetCallerIdentity" in body:
            with self.lock:  # no permission needed (Service Authorization Reference: none listed)
                self.authorized += 1
        else:
            try:
                requests = self.decode(service, method, path, query, headers, body)
            except Exception as e:  # noqa: BLE001 - what cannot be decoded cannot be proven allowed
                with self.lock:
                    self.undecodable.append((user, service, method, raw_path, repr(e)))
                return self.denied(service, f"undecodable: {e}")
            docs = self.policies(user)
            principal = f"arn:aws:iam::{ACCOUNT}:user/{user}"
            for action, resource, ctx in requests:
                full = dict(ctx, **{"aws:RequestedRegion": REGION, "aws:PrincipalArn": principal})
                ok = evaluate(docs, Request(action, resource, full)) == ALLOW
                with self.lock:
                    self.decisions.append(Decision(user, action, resource, ctx, ok))
                if not ok:
                    return self.denied(service, f"User: {principal} is not authorized to perform: {action} on resource: {resource}")
            with self.lock:
                self.authorized += 1
        if service == "cloudformation":
            body = self.inline_template(body)
        status, out_headers, data = self.forward(method, raw_path, headers, body)
        if service == "cloudformation" and b"Action=DeleteChangeSet" in body and status >= 400 and b"ChangeSetNotFound" in data:
            status, data = 200, b'<DeleteChangeSetResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DeleteChangeSetResult/></DeleteChangeSetResponse>'
        return status, out_headers, data

    def inline_template(self, body):
        """moto cannot fetch a TemplateURL pointing at the local endpoint: read it from moto's S3."""
        form = urllib.parse.parse_qs(body.decode(errors="replace"), keep_blank_values=True)
        url = form.get("TemplateURL", [None])[0]
        if not url:
            return body
        m = re.match(r"https?://[^/]+/([^/]+)/(.+)$", url)
        bucket, key = (m.group(1), m.group(2)) if m else (None, None)
        if bucket and bucket.startswith("s3.") is False and ".s3." in url.split("/")[2]:
            bucket, key = url.split("/")[2].split(".s3.")[0], url.split("/", 3)[3]
        template = self.s3.get_object(Bucket=bucket, Key=urllib.parse.unquote(key))["Body"].read().decode()
        del form["TemplateURL"]
        form["TemplateBody"] = [template]
        return urllib.parse.urlencode(form, doseq=True).encode()

    def forward(self, method, raw_path, headers, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=120)
        h = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection", "content-length")}
        h["Content-Length"] = str(len(body))
        conn.request(method, raw_path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        out = {k: v for k, v in resp.getheaders() if k.lower() not in ("content-length", "connection", "transfer-encoding")}
        conn.close()
        return resp.status, out, data

    @staticmethod
    def denied(service, message):
        if service in ("lambda", "logs", "ssm", "ecr"):
            return 403, {"Content-Type": "application/json", "x-amzn-ErrorType": "AccessDeniedException"}, json.dumps(
                {"__type": "AccessDeniedException", "Message": message, "message": message}).encode()
        if service == "s3":
            return 403, {"Content-Type": "application/xml"}, (
                f"<Error><Code>AccessDenied</Code><Message>{message}</Message></Error>").encode()
        return 403, {"Content-Type": "text/xml"}, (
            f'<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{message}</Message></Error>'
            f"<RequestId>deployer-authz</RequestId></ErrorResponse>").encode()

    def refused(self, user=None):
        with self.lock:
            return [d for d in self.decisions if not d.allowed and (user is None or d.user == user)]

    def expect(self, refusals):
        """Marks refusals a test provoked on purpose (and checked): teardown does not fail on them."""
        with self.lock:
            self.expected.extend(refusals)

    def unexpected(self, expected=()):
        """What a test's teardown fails on: refused decisions it did not mark, and every unattributed
        or undecodable request unless `expected` names that kind ("unattributed", "undecodable") or
        the refused action."""
        with self.lock:
            denied = [d for d in self.decisions if not d.allowed and d.action not in expected
                      and not any(d is e for e in self.expected)]
            odd = [("unattributed",) + u for u in self.unattributed if "unattributed" not in expected]
            odd += [("undecodable",) + u for u in self.undecodable if "undecodable" not in expected]
            return denied + odd
