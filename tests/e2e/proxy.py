"""A fault-injecting, latency-adding, call-counting proxy between the provider and moto.

The provider reaches it through AWS_ENDPOINT_URL exactly as it would reach AWS: no test-only code
path. Rules say which calls to fail and how; every call is counted by service and action, and
recorded with its parameters (`count`).

Rules target entities, not positions: the provider makes its calls concurrently, so "the third
PutRolePolicy" is a different role from one run to the next. A rule that names the entity
(`where={"RoleName": ...}`) or fails every distinct request its first n times (`first_attempts`)
injects the same faults whatever order the calls arrive in."""
import collections
import hashlib
import http.client
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

READ_PREFIXES = ("Get", "List", "Describe")


def action_of(headers, body):
    """(service, action) of an AWS query (IAM, STS) or JSON (KMS) request."""
    target = headers.get("X-Amz-Target", "")
    if target:
        return target.split(".")[0].replace("TrentService", "kms"), target.split(".")[-1]
    form = urllib.parse.parse_qs(body.decode(errors="replace"))
    action = form.get("Action", [""])[0]
    auth = headers.get("Authorization", "")
    # AssumeRoleWithWebIdentity is unsigned (no credential scope to name the service): STS's by name.
    service = "sts" if "/sts/" in auth or action == "AssumeRoleWithWebIdentity" else "iam"
    return service, action


def request_params(service, body):
    """The parameters of a query (IAM, STS) or JSON (KMS) request, by name (first value of each)."""
    if service == "kms":
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return {}
        return req if isinstance(req, dict) else {}
    return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(errors="replace"), keep_blank_values=True).items()}


def is_write(action):
    return not action.startswith(READ_PREFIXES)


class Rule:
    """Fail calls matching `match(service, action)` and, with `where`, whose request parameters
    equal those given (`{"RoleName": "orders-prod-us-east-1-f2"}`: that role's calls only; a value
    may be a predicate on the parameter), with
    `kind` throttle | 5xx | invalid_arn | malformed | gone (NoSuchEntity, as for an entity deleted
    meanwhile) | conflict (IAM's DeleteConflict, as IAM answers for a while after dependencies are
    removed) | lost (the call reaches moto and takes effect, but its answer is a 5xx, as after a
    timeout).

    How often: `times` failures at most (None: always); `first_attempts` n: each distinct request
    (same service, action and body) fails its first n attempts and then passes, so every call is
    hit alike whatever the order. `every` n-th matching call only: that depends on the order of
    concurrent calls, so it is for rules whose `where` names a single entity, or whose outcome does
    not depend on which call is hit."""

    def __init__(self, match, kind, times=None, every=1, where=None, first_attempts=None):
        self.match, self.kind, self.times, self.every = match, kind, times, every
        self.where = dict(where or {})
        self.first_attempts = first_attempts
        self.attempts = collections.Counter()
        self.seen = 0
        self.fired = 0

    def fires(self, service, action, params=None, body=b""):
        if not self.match(service, action):
            return False
        params = params or {}
        if not all(v(params.get(k)) if callable(v) else params.get(k) == v for k, v in self.where.items()):
            return False
        self.seen += 1
        if self.times is not None and self.fired >= self.times:
            return False
        if self.first_attempts is not None:
            key = (service, action, hashlib.sha256(body).hexdigest())
            self.attempts[key] += 1
            if self.attempts[key] > self.first_attempts:
                return False
        elif self.seen % self.every:
            return False
        self.fired += 1
        return True


def error_response(service, kind):
    if kind == "5xx":
        return 500, "text/html", b"<html><body>Internal Server Error</body></html>"
    if service == "kms":
        code = {"throttle": "ThrottlingException", "invalid_arn": "InvalidArnException", "malformed": "ValidationException"}[kind]
        return 400, "application/x-amz-json-1.1", json.dumps({"__type": code, "message": f"injected {code}"}).encode()
    code = {"throttle": "Throttling", "malformed": "MalformedPolicyDocument", "invalid_arn": "InvalidInput",
            "conflict": "DeleteConflict", "gone": "NoSuchEntity"}[kind]
    body = (f'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>injected {code}</Message></Error><RequestId>injected</RequestId></ErrorResponse>")
    return (404 if kind == "gone" else 409 if kind == "conflict" else 400), "text/xml", body.encode()


class RateLimit:
    """IAM's account-wide write throttling, imitated: a token bucket of `per_second` writes (burst
    `burst`); a write beyond it is answered `Throttling` without reaching moto."""

    def __init__(self, per_second, burst=None):
        self.rate = per_second
        self.burst = burst or per_second
        self.tokens = float(self.burst)
        self.last = time.monotonic()
        self.allowed = 0
        self.throttled = 0
        self.events = []

    def admit(self):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        ok = self.tokens >= 1
        self.events.append((now, ok))
        if ok:
            self.tokens -= 1
            self.allowed += 1
            return True
        self.throttled += 1
        return False


def kms_list_grants_page(request_body, moto_answer):
    """KMS's ListGrants as AWS answers it, from moto's answer (moto ignores `Limit` and `Marker` and
    shows grantee ARNs): `Limit` 1–100, 50 when absent, else ValidationException; pages chained by
    `NextMarker`/`Truncated`; a role grantee shown by its unique id (AROA…), as AWS does for a role
    recreated since the grant (so nothing may rely on grantee ARNs there). Returns (status, body,
    the Limit asked)."""
    req = json.loads(request_body or b"{}")
    limit = req.get("Limit", 50)
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        err = {"__type": "ValidationException",
               "message": f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: "
                          "Member must have value less than or equal to 100"}
        return 400, json.dumps(err).encode(), limit
    answer = json.loads(moto_answer)
    grants = answer.get("Grants", [])
    start = int(req.get("Marker") or 0)
    page = grants[start:start + limit]
    for g in page:
        if ":role/" in g.get("GranteePrincipal", ""):
            g["GranteePrincipal"] = "AROA" + hashlib.sha1(g["GranteePrincipal"].encode()).hexdigest()[:17].upper()
    out = {"Grants": page, "Truncated": start + limit < len(grants)}
    if out["Truncated"]:
        out["NextMarker"] = str(start + limit)
    return 200, json.dumps(out).encode(), limit


def with_stale_groups(xml, groups):
    """A ListEntitiesForPolicy answer that still lists `groups`, as IAM does for a while after a
    group's policy was detached (eventual consistency)."""
    members = "".join(f"<member><GroupName>{g}</GroupName><GroupId>AGPA{abs(hash(g)) % 10**17:017d}</GroupId></member>"
                      for g in groups)
    text = xml.decode()
    if "<PolicyGroups>" in text:
        text = text.replace("<PolicyGroups>", "<PolicyGroups>" + members, 1)
    elif "<PolicyGroups/>" in text:
        text = text.replace("<PolicyGroups/>", f"<PolicyGroups>{members}</PolicyGroups>", 1)
    else:
        text = text.replace("<IsTruncated>", f"<PolicyGroups>{members}</PolicyGroups><IsTruncated>", 1)
    return text.encode()


class FaultProxy:
    def __init__(self, upstream_port, latency_s=0.0, authorizer=None):
        self.upstream_port = upstream_port
        self.latency_s = latency_s
        self.authorizer = authorizer
        self.iam_write_limit = None
        self.rules = []
        # IAM's account-wide uniqueness of group and policy names, which moto lacks (see
        # `name_taken`); on unless a test turns it off.
        self.unique_names = True
        self.names_refused = 0
        self._moto_iam = None
        # The Limit of every ListGrants call, and the pages that were truncated.
        self.list_grants_limits = []
        self.truncated_grant_pages = 0
        # Seconds a detached group is still listed by ListEntitiesForPolicy (0: never), and the
        # detachments seen: (policy ARN, group name, when).
        self.stale_detachments_s = 0.0
        self.detachments = []
        self.stale_listings = 0
        # When each call reached moto (wall clock, as the provider's log), with its service and action.
        self.landed = []
        self.calls = collections.Counter()
        # Every request: (service, action, parameters), in arrival order.
        self.requests = []
        self.lock = threading.Lock()
        proxy = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                service, action = action_of(self.headers, body)
                params = request_params(service, body)
                with proxy.lock:
                    proxy.calls[(service, action)] += 1
                    proxy.requests.append((service, action, params))
                if proxy.latency_s:
                    time.sleep(proxy.latency_s)
                # Authorized first: a refused call reaches no rule and nothing behind it.
                denied = proxy.authorize(service, action, self.headers, body, self.path)
                rule = None
                if not denied:
                    with proxy.lock:
                        rule = next((r for r in proxy.rules if r.fires(service, action, params, body)), None)
                        limit = proxy.iam_write_limit
                        if rule is None and limit and service == "iam" and is_write(action) and not limit.admit():
                            rule = Rule(lambda *_: True, "throttle")
                taken = None if denied or (rule and rule.kind != "lost") else proxy.name_taken(service, action, params)
                if denied:
                    status, ctype, data = denied
                elif taken:
                    status, ctype, data = taken
                elif rule and rule.kind != "lost":
                    status, ctype, data = error_response(service, rule.kind)
                else:
                    with proxy.lock:
                        proxy.landed.append((time.time(), service, action))
                    conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    status, ctype, data = resp.status, resp.getheader("Content-Type", ""), resp.read()
                    conn.close()
                    if service == "iam" and status == 200 and action in ("DetachGroupPolicy", "ListEntitiesForPolicy"):
                        data = proxy.eventually_consistent(action, body, data)
                    if service == "kms" and action == "ListGrants" and status == 200:
                        status, data, limit = kms_list_grants_page(body, data)
                        with proxy.lock:
                            proxy.list_grants_limits.append(limit)
                            proxy.truncated_grant_pages += b'"Truncated": true' in data
                    if proxy.authorizer is not None:
                        proxy.authorizer.answered(service, action, body, status, data)
                    if rule:  # "lost": it happened, but the caller never hears so
                        status, ctype, data = error_response(service, "5xx")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the provider gave up on the call (deadline): nothing to answer

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, action, **where):
        """How many requests of `action` the proxy received whose parameters include `where`."""
        with self.lock:
            return sum(1 for _, a, p in self.requests if a == action and all(p.get(k) == v for k, v in where.items()))

    def name_taken(self, service, action, params):
        """IAM's EntityAlreadyExists for a group or managed policy whose name the account already
        uses under another path or in another case, which moto accepts: "IAM user, group, role, and
        policy names must be unique within the account. Names are not distinguished by case." (IAM
        API Reference, CreateGroup GroupName and CreatePolicy PolicyName; the same text in botocore's
        iam service model). moto keys policies by ARN (path included) and names case-sensitively.
        Roles are left to moto (an exact name on any path conflicts there already)."""
        if not self.unique_names or service != "iam" or action not in ("CreateGroup", "CreatePolicy"):
            return None
        if self._moto_iam is None:
            import boto3
            self._moto_iam = boto3.client("iam", endpoint_url=f"http://127.0.0.1:{self.upstream_port}", region_name="us-east-1",
                                          aws_access_key_id="testing", aws_secret_access_key="testing")
        iam = self._moto_iam
        if action == "CreateGroup":
            name = params.get("GroupName", "")
            names = [g["GroupName"] for page in iam.get_paginator("list_groups").paginate() for g in page["Groups"]]
            message = f"Group with name {name} already exists."
        else:
            name = params.get("PolicyName", "")
            names = [p["PolicyName"] for page in iam.get_paginator("list_policies").paginate(Scope="Local") for p in page["Policies"]]
            message = f"A policy called {name} already exists. Duplicate names are not allowed."
        if not any(n.lower() == name.lower() for n in names):
            return None
        with self.lock:
            self.names_refused += 1
        body = (f'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
                f"<Code>EntityAlreadyExists</Code><Message>{message}</Message></Error><RequestId>unique-names</RequestId></ErrorResponse>")
        return 409, "text/xml", body.encode()

    def eventually_consistent(self, action, body, data):
        """Records a group's detachment; answers a policy's listing with the groups detached from
        it in the last `stale_detachments_s` seconds still in it."""
        form = urllib.parse.parse_qs(body.decode(errors="replace"))
        arn = form.get("PolicyArn", [""])[0]
        now = time.monotonic()
        with self.lock:
            if action == "DetachGroupPolicy":
                self.detachments.append((arn, form.get("GroupName", [""])[0], now))
                return data
            stale = sorted({g for a, g, t in self.detachments if a == arn and now - t < self.stale_detachments_s})
            if stale:
                self.stale_listings += 1
        return with_stale_groups(data, stale) if stale else data

    def authorize(self, service, action, headers, body, path="/"):
        """AWS's refusal when the authorizing layer refuses the call (not attributable to a known
        principal, undecodable, or not allowed), else None."""
        if self.authorizer is None:
            return None
        return self.authorizer.check(service, action, headers, body, path)

    def reset_counts(self):
        with self.lock:
            self.calls.clear()

    def counts(self):
        with self.lock:
            reads = sum(n for (s, a), n in self.calls.items() if not is_write(a))
            writes = sum(n for (s, a), n in self.calls.items() if is_write(a))
            return reads, writes

    def stop(self):
        self.server.shutdown()
