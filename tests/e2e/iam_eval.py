"""A small IAM policy evaluator for the tests: identity policies, an optional permissions boundary,
explicit Deny, Action/NotAction, Resource/NotResource with `*`/`?` wildcards and policy variables,
and the condition operators the provider's documents and template use (String*, Arn*, Bool, Null,
Numeric*, with IfExists and ForAllValues:/ForAnyValue:).

It follows AWS's evaluation logic for a single account
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny in any policy wins; otherwise the request needs an Allow in an identity policy and,
when a boundary is set, an Allow in the boundary too. A role's trust policy is evaluated by
`evaluate_trust` (at the end of this file); other resource-based policies, SCPs and session
policies are outside what the provider writes and are not modelled.

AWS rules this file follows, with their sources (IAM User Guide):
- Action names match case-insensitively, resources case-sensitively; `*` is any run of characters
  and `?` one character (reference_policies_elements_action.html, reference_policies_elements_resource.html).
- A resource ARN is matched segment by segment and its resource type is literal: see
  `resource_matches` (reference-arns.html, "Incorrect wildcard usage").
- Condition key names are not case-sensitive; whether values are depends on the operator
  (reference_policies_elements_condition.html: "aws:SourceIP is equivalent to testing for AWS:SourceIp").
- A key absent from the request makes a condition false, except for negated operators
  (`StringNotEquals`, `ArnNotLike`, ...), which are then true, and `...IfExists` and `Null`, which
  test presence (reference_policies_elements_condition_operators.html, "Important").
- `...IfExists`: "If the key is not present, evaluate the condition element as true" (same page).
  With a set qualifier the qualifier decides an absent key: `ForAnyValue:StringEqualsIfExists`
  over an absent key is false in AWS (repost.aws question QU9HFmDzP0QGuU-fd7rS6B7w, accepted answer).
- Several operators in one block, and several keys under one operator, are ANDed; several values
  for one key are ORed, and NORed for a negated operator (reference_policies_multi-value-conditions.html).
- `ForAnyValue:` over an absent key (or empty set) is false, `ForAllValues:` true (same page).
- `ArnEquals`/`ArnLike`: each of the six colon-delimited parts is matched separately, with
  wildcards, case-sensitively (reference_policies_elements_condition_operators.html#Conditions_ARN).
- Policy variables `${key}` only in documents with `"Version": "2012-10-17"`; elsewhere they are
  literal text (reference_policies_elements_version.html). A variable whose key is absent or
  multi-valued has no value and matches nothing, unless a default is given as `${key, 'default'}`
  (reference_policies_variables.html#policy-vars-no-value, #policy-vars-default-values).
  `${*}`, `${?}` and `${$}` stand for a literal `*`, `?` and `$` (#policy-vars-specialchars). A
  substituted value is literal text: a `*` in a request's value is not a wildcard (AWS documents
  no expansion of it; @cloud-copilot/iam-simulate escapes it the same way).
- An empty multi-valued key in a request context is treated as absent (IAM does not send a key
  with no values; the set operators give the same answer either way).
"""
import contextlib
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache

ALLOW, DENY, IMPLICIT = "Allow", "Deny", "ImplicitDeny"
VARIABLES_VERSION = "2012-10-17"


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def statements(doc):
    return as_list(doc.get("Statement", []))


def context_value(ctx, key):
    """The request's value for a condition key, whose name is matched case-insensitively."""
    if key in ctx:
        return ctx[key]
    low = key.lower()
    for k, v in ctx.items():
        if k.lower() == low:
            return v
    return None


_TOKEN = re.compile(r"\$\{([^}]*)\}|\*|\?")


def _variable(name, ctx):
    """The value of `${name}` (`key` or `key, 'default'`), or None when it has none."""
    key, sep, default = name.partition(",")
    key, default = key.strip(), default.strip()
    value = context_value(ctx, key)
    if value is None or isinstance(value, list):
        if sep and len(default) >= 2 and default[0] == default[-1] == "'":
            return default[1:-1]
        return None
    return str(value)


def _pattern_source(pattern, ctx, wildcards, variables):
    """A regular expression for an IAM string, or None when a policy variable in it has no value."""
    out, pos = [], 0
    for m in _TOKEN.finditer(pattern):
        out.append(re.escape(pattern[pos:m.start()]))
        token = m.group(0)
        if token in ("*", "?"):
            out.append((".*" if token == "*" else ".") if wildcards else re.escape(token))
        elif not variables:
            # Outside Version 2012-10-17 `${...}` is text; its `*` or `?` is still a wildcard.
            inner = _pattern_source(token[2:-1], ctx, wildcards, False)
            out.append(re.escape("${") + inner + re.escape("}"))
        elif m.group(1) in ("*", "?", "$"):
            out.append(re.escape(m.group(1)))
        else:
            value = _variable(m.group(1), ctx)
            if value is None:
                return None
            out.append(re.escape(value))
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return "".join(out)


@lru_cache(maxsize=65536)
def _static(pattern, wildcards, case, variables):
    src = _pattern_source(pattern, {}, wildcards, variables)
    return re.compile(src, re.DOTALL | (0 if case else re.IGNORECASE))


def matcher(pattern, ctx=None, wildcards=True, case=True, variables=False):
    """A compiled IAM string (wildcards and, if `variables`, policy variables resolved from `ctx`),
    or None when a variable has no value."""
    if not variables or "${" not in pattern:
        return _static(pattern, wildcards, case, variables)
    src = _pattern_source(pattern, ctx or {}, wildcards, True)
    return None if src is None else re.compile(src, re.DOTALL | (0 if case else re.IGNORECASE))


def glob(pattern, value, case=True):
    """IAM wildcard matching: `*` any run of characters, `?` one character; nothing else special."""
    return _static(pattern, True, case, False).fullmatch(value) is not None


def _matches(pattern, value, ctx, variables, wildcards=True, case=True):
    m = matcher(pattern, ctx, wildcards, case, variables)
    return m is not None and m.fullmatch(value) is not None


@dataclass
class Request:
    action: str
    resource: str = "*"
    context: dict = field(default_factory=dict)


ARN_PARTS = 6


_VARIABLE = re.compile(r"\$\{[^}]*\}")


def _type_end(resource):
    """Where a resource part's type ends: after its first `/` or `:` outside a policy variable (a
    variable's own key, like `${aws:PrincipalTag/k}`, is not part of the ARN), or 0 when it has none."""
    pos = 0
    while pos < len(resource):
        if resource.startswith("${", pos):
            m = _VARIABLE.match(resource, pos)
            if m:
                pos = m.end()
                continue
        if resource[pos] in "/:":
            return pos + 1
        pos += 1
    return 0


@lru_cache(maxsize=65536)
def _arn_pattern(pattern):
    """A policy's resource ARN cut as IAM reads it: partition, service, region and account, then the
    resource type (the literal "product", up to and including the first `/` or `:`) and the rest.
    A short ARN is padded with `*` segments. None when `pattern` is not an ARN."""
    if not pattern.startswith("arn:"):
        return None
    parts = pattern.split(":", ARN_PARTS - 1)
    if len(parts) < ARN_PARTS and "${" in pattern:
        return None  # a variable's `:` would be read as a segment's end: not an ARN IAM writes
    parts += ["*"] * (ARN_PARTS - len(parts))
    _, partition, service, region, account, resource = parts
    if service == "s3" and region == "" and account == "":
        # S3 names buckets and objects with no resource type: the whole part is the pattern.
        return (partition, service, region, account), "", resource
    end = _type_end(resource)
    return (partition, service, region, account), resource[:end], resource[end:]


@lru_cache(maxsize=65536)
def _resource_regex_static(product, rest, variables):
    return re.compile(_pattern_source(product, {}, False, variables) + _pattern_source(rest, {}, True, variables),
                      re.DOTALL)


def _resource_regex(product, rest, ctx, variables):
    if not variables or "${" not in product + rest:
        return _resource_regex_static(product, rest, variables)
    a, b = _pattern_source(product, ctx, False, True), _pattern_source(rest, ctx, True, True)
    return None if a is None or b is None else re.compile(a + b, re.DOTALL)


def resource_matches(pattern, value, ctx=None, variables=False):
    """Whether a policy's Resource/NotResource `pattern` names the request's resource `value`.

    IAM matches an ARN segment by segment (IAM User Guide, reference_policies_elements_resource.html,
    "Using wildcards in resource ARNs": wildcards work "within the individual segments of an ARN");
    the partition, service, region and account segments are compared on their own, without case, and a
    wildcard never spans them. The resource type is literal: "You cannot use a wildcard in the portion
    of the ARN that specifies the resource type" (reference-arns.html, "Incorrect wildcard usage"), so
    `arn:aws:lambda:*:*:*:name` names no function; a `*` or `?` there is text. @cloud-copilot/iam-simulate
    (the independent engine the suite is checked against) cuts ARNs the same way (resource/resource.js,
    util.getResourceSegments), except that it also cuts inside a policy variable's key. A request
    resource that is not a full ARN (`*`) is matched as one string."""
    if pattern == "*":
        return True
    cut = _arn_pattern(pattern)
    if cut is None or not value.startswith("arn:"):
        return _matches(pattern, value, ctx, variables)
    have = value.split(":", ARN_PARTS - 1)
    if len(have) < ARN_PARTS:
        return _matches(pattern, value, ctx, variables)
    segments, product, rest = cut
    for want, got in zip(segments, have[1:5]):
        if not _matches(want, got, ctx, variables, case=False):
            return False
    regex = _resource_regex(product, rest, ctx, variables)
    return regex is not None and regex.fullmatch(have[5]) is not None


def _string_op(base, have, want, ctx, variables):
    if base in ("StringEquals", "StringNotEquals"):
        return _matches(want, have, ctx, variables, wildcards=False)
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return _matches(want, have, ctx, variables, wildcards=False, case=False)
    if base in ("StringLike", "StringNotLike"):
        return _matches(want, have, ctx, variables)
    if base in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        hp, wp = have.split(":", 5), want.split(":", 5)
        return len(hp) == len(wp) == 6 and all(_matches(p, h, ctx, variables) for p, h in zip(wp, hp))
    if base == "Bool":
        return str(have).lower() == str(want).lower()
    if base.startswith("Numeric"):
        h, w = float(have), float(want)
        return {
            "NumericEquals": h == w, "NumericNotEquals": h == w, "NumericLessThan": h < w,
            "NumericLessThanEquals": h <= w, "NumericGreaterThan": h > w, "NumericGreaterThanEquals": h >= w,
        }[base]
    raise ValueError(f"condition operator {base} is not modelled")


NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike", "NumericNotEquals"}


def condition_holds(cond, ctx, variables=True):
    for op, kv in (cond or {}).items():
        qualifier, _, base = op.rpartition(":")
        if_exists = base.endswith("IfExists")
        base = base[: -len("IfExists")] if if_exists else base
        for key, want in kv.items():
            wants = [str(w) if not isinstance(w, bool) else str(w).lower() for w in as_list(want)]
            have = context_value(ctx, key)
            if have == []:
                have = None
            if base == "Null":
                if (wants[0].lower() == "true") != (have is None):
                    return False
                continue
            negated = base in NEGATED
            if qualifier in ("ForAllValues", "ForAnyValue"):
                values = [str(v) for v in as_list(have)]

                def value_holds(v):
                    # A negated operator holds for a value that matches none of the policy's values.
                    hit = any(_string_op(base, v, w, ctx, variables) for w in wants)
                    return not hit if negated else hit

                if qualifier == "ForAllValues":
                    ok = all(value_holds(v) for v in values)
                else:
                    ok = any(value_holds(v) for v in values)
                if not ok:
                    return False
                continue
            if have is None:
                if if_exists or negated:
                    continue
                return False
            if isinstance(have, list):
                raise ValueError(f"{key} is multi-valued: use ForAllValues/ForAnyValue with {op}")
            hit = any(_string_op(base, str(have), w, ctx, variables) for w in wants)
            if hit == negated:
                return False
    return True


def statement_applies(st, req, variables=True):
    if "Action" in st:
        if not any(glob(a, req.action, case=False) for a in as_list(st["Action"])):
            return False
    elif any(glob(a, req.action, case=False) for a in as_list(st.get("NotAction"))):
        return False
    patterns = as_list(st.get("Resource", st.get("NotResource")))
    hits = any(resource_matches(p, req.resource, req.context, variables) for p in patterns)
    if ("Resource" in st) != hits:
        return False
    return condition_holds(st.get("Condition"), req.context, variables)


def decide(docs, req):
    """ALLOW, DENY (explicit) or IMPLICIT for one set of policies."""
    allowed = False
    for doc in docs:
        variables = doc.get("Version") == VARIABLES_VERSION
        for st in statements(doc):
            if statement_applies(st, req, variables):
                if st["Effect"] == "Deny":
                    return DENY
                allowed = True
    return ALLOW if allowed else IMPLICIT


# Observers of every decision (the differential check against an independent engine records the
# suite's requests through this hook): called with (identity_docs, boundary_docs, request, decision).
_observers = []
_observers_lock = threading.Lock()


def observe(fn):
    with _observers_lock:
        _observers.append(fn)


_unobserved = threading.local()


@contextlib.contextmanager
def unobserved():
    """Decisions made inside are not reported to the observers. For the isolation enumeration only:
    it decides statement fragments (each statement that can apply, as a document of its own, for
    speed), not the documents IAM holds, by the tens of thousands, and proves itself with its own
    controls; an independent engine rightly refuses such fragments as documents."""
    _unobserved.on = True
    try:
        yield
    finally:
        _unobserved.on = False


def evaluate(identity_docs, req, boundary_docs=None):
    """The decision for `req` by a principal with `identity_docs` and an optional boundary."""
    decision = _evaluate(identity_docs, req, boundary_docs)
    if not getattr(_unobserved, "on", False):
        for fn in _observers:
            fn(identity_docs, boundary_docs, req, decision)
    return decision


def _evaluate(identity_docs, req, boundary_docs):
    identity = decide(identity_docs, req)
    if identity == DENY:
        return DENY
    if boundary_docs is not None:
        boundary = decide(boundary_docs, req)
        if boundary == DENY:
            return DENY
        if boundary != ALLOW:
            return IMPLICIT
    return identity


def allowed(identity_docs, action, resource="*", context=None, boundary_docs=None):
    return evaluate(identity_docs, Request(action, resource, dict(context or {})), boundary_docs) == ALLOW


# --- Trust policies (a role's resource-based policy for sts:AssumeRole*) ---------------------------
#
# AWS rules this part follows (IAM User Guide):
# - Principal element (reference_policies_elements_principal.html): `"AWS": "<account id>"` and
#   `"AWS": "arn:aws:iam::<account>:root"` both name the account, i.e. delegate to the account's IAM
#   policies; an IAM user or role ARN names that principal (a role session is matched by its role's
#   ARN or by its assumed-role session ARN); `"Federated": "<oidc-provider ARN>"` names a web-identity
#   provider; `"Service"` a service principal; `"*"` everyone. No partial wildcards: a `*` inside
#   an ARN is not a pattern there ("You cannot use a wildcard to match part of a principal name or
#   ARN"), so principals compare exactly.
# - Role trust policies are the resource policy of sts:AssumeRole*: unlike other resource policies in
#   one account, a role "must explicitly allow" its principals; a trust policy that names the
#   account still needs the caller's identity policies to allow the action
#   (reference_policies_evaluation-logic-cross-account.html and id_roles_terms-and-concepts.html
#   "trust policy"; @cloud-copilot/iam-simulate StsServiceAuthorizer does the same).
# - A permissions boundary limits what a resource policy grants to a role's ARN, not what it grants
#   to a user's ARN or to a role session's ARN (reference_policies_evaluation-logic.html,
#   "Identity-based policies with boundaries and resource-based policies").
# - A web-identity caller has no identity policies: only the trust policy decides
#   (id_roles_providers_oidc.html; STS AssumeRoleWithWebIdentity "does not require AWS security
#   credentials").


@dataclass
class Caller:
    """Who asks STS: `kind` "user" | "role" (a session of the role `arn`, `session_arn` its
    assumed-role ARN) | "federated" (`arn` the OIDC provider's ARN) | "service"."""
    kind: str
    arn: str
    account: str = ""
    session_arn: str = None


def _account_of(value):
    if re.fullmatch(r"\d{12}", value):
        return value
    m = re.fullmatch(r"arn:aws[\w-]*:iam::(\d{12}):root", value)
    return m.group(1) if m else None


def principal_match(element, caller):
    """How the Principal element names `caller`: "direct" (its ARN, provider or service), "account"
    (its account: its identity policies must allow too), "any" (`*`) or None."""
    if element == "*":
        return "any"
    if not isinstance(element, dict):
        raise ValueError(f"Principal {element!r} is neither '*' nor a map")
    best = None
    for kind, values in element.items():
        for v in as_list(values):
            if kind == "AWS":
                if v == "*":
                    hit = "any" if caller.kind != "federated" else None
                elif _account_of(v) is not None:
                    hit = "account" if caller.kind in ("user", "role") and _account_of(v) == caller.account else None
                else:
                    hit = "direct" if caller.kind in ("user", "role") and v in (caller.arn, caller.session_arn) else None
            elif kind == "Federated":
                hit = "direct" if caller.kind == "federated" and v == caller.arn else None
            elif kind == "Service":
                hit = "direct" if caller.kind == "service" and v == caller.arn else None
            else:
                raise ValueError(f"Principal type {kind} is not modelled")
            if hit == "direct" and caller.kind == "role" and v == caller.arn:
                hit = "role"  # the role's ARN (not the session's): a boundary limits it
            rank = {None: 0, "account": 1, "any": 2, "role": 3, "direct": 4}
            if rank[hit] > rank[best]:
                best = hit
    return best


def decide_trust(trust_doc, req, caller):
    """(explicit Deny?, the strongest way an Allow statement names the caller) for a trust policy."""
    variables = trust_doc.get("Version") == VARIABLES_VERSION
    denied, granted = False, None
    rank = {None: 0, "account": 1, "any": 2, "role": 3, "direct": 4}
    for st in statements(trust_doc):
        if "Resource" in st or "NotResource" in st:
            raise ValueError("a trust policy has no Resource element (IAM refuses it)")
        if "NotPrincipal" in st:
            if st["Effect"] != "Deny":
                raise ValueError("NotPrincipal with Allow is not modelled")
            hit = principal_match(st["NotPrincipal"], caller) is None
        else:
            hit = principal_match(st.get("Principal"), caller)
        if not hit:
            continue
        names = st.get("Action") if "Action" in st else None
        if names is not None and not any(glob(a, req.action, case=False) for a in as_list(names)):
            continue
        if names is None and any(glob(a, req.action, case=False) for a in as_list(st.get("NotAction"))):
            continue
        if not condition_holds(st.get("Condition"), req.context, variables):
            continue
        if st["Effect"] == "Deny":
            denied = True
        elif rank[hit] > rank[granted]:
            granted = hit
    return denied, granted


def evaluate_trust(trust_doc, req, caller, identity_docs=(), boundary_docs=None):
    """The decision for `caller` asking `req` (an sts:AssumeRole* on the role whose trust policy is
    `trust_doc`): the trust policy must name the caller and allow it; when it names only the
    caller's account (or everyone), the caller's identity policies (and boundary) must allow too; a
    role's own ARN is limited by its boundary; any explicit Deny wins."""
    decision = _evaluate_trust(trust_doc, req, caller, list(identity_docs), boundary_docs)
    if not getattr(_unobserved, "on", False):
        traced = Request(req.action, req.resource, dict(req.context))
        traced.resource_policy, traced.principal = trust_doc, caller.session_arn or caller.arn
        for fn in _observers:
            fn(list(identity_docs), boundary_docs, traced, decision)
    return decision


def _evaluate_trust(trust_doc, req, caller, identity_docs, boundary_docs):
    denied, granted = decide_trust(trust_doc, req, caller)
    if caller.kind == "federated":
        # No identity policies: the trust policy alone decides.
        return DENY if denied else ALLOW if granted in ("direct", "any") else IMPLICIT
    identity = decide(identity_docs, req)
    boundary = decide(boundary_docs, req) if boundary_docs is not None else None
    if denied or DENY in (identity, boundary):
        return DENY
    bounded = boundary_docs is None or boundary == ALLOW
    if granted in ("direct", "any"):  # `*` names every principal as directly as its ARN would
        return ALLOW
    if granted == "role":
        return ALLOW if bounded else IMPLICIT
    if granted == "account":
        return ALLOW if identity == ALLOW and bounded else IMPLICIT
    return IMPLICIT
