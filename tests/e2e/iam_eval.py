"""A small IAM policy evaluator for the tests: identity policies, an optional permissions boundary,
explicit Deny, Action/NotAction, Resource/NotResource with `*`/`?` wildcards and policy variables,
and the condition operators the provider's documents and template use (String*, Arn*, Bool, Null,
Numeric*, with IfExists and ForAllValues:/ForAnyValue:).

It follows AWS's evaluation logic for a single account
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny in any policy wins; otherwise the request needs an Allow in an identity policy and,
when a boundary is set, an Allow in the boundary too. Resource-based policies, SCPs and session
policies are outside what the provider writes and are not modelled.
"""
import re
from dataclasses import dataclass, field

ALLOW, DENY, IMPLICIT = "Allow", "Deny", "ImplicitDeny"


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def statements(doc):
    return as_list(doc.get("Statement", []))


def glob(pattern, value, case=True):
    """IAM wildcard matching: `*` any run of characters, `?` one character; nothing else special."""
    if not case:
        pattern, value = pattern.lower(), value.lower()
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, re.DOTALL) is not None


def substitute(pattern, ctx):
    """Replaces policy variables `${key}` with single-valued context values; a variable whose key is
    absent makes the pattern match nothing (AWS treats the element as not matching)."""
    missing = []

    def one(m):
        key = m.group(1)
        if key in ("*", "?", "$"):
            return key
        v = ctx.get(key)
        if v is None or isinstance(v, list):
            missing.append(key)
            return ""
        return str(v)

    out = re.sub(r"\$\{([^}]+)\}", one, pattern)
    return None if missing else out


@dataclass
class Request:
    action: str
    resource: str = "*"
    context: dict = field(default_factory=dict)


def _string_op(base, have, want, ctx):
    if base in ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        want = substitute(want, ctx)
        if want is None:
            return False
    if base in ("StringEquals", "StringNotEquals"):
        return have == want
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return have.lower() == want.lower()
    if base in ("StringLike", "StringNotLike"):
        w = substitute(want, ctx)
        return w is not None and glob(w, have)
    if base in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        w = substitute(want, ctx)
        if w is None:
            return False
        hp, wp = have.split(":", 5), w.split(":", 5)
        return len(hp) == len(wp) == 6 and all(glob(p, h) for p, h in zip(wp, hp))
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


def condition_holds(cond, ctx):
    for op, kv in (cond or {}).items():
        qualifier, _, base = op.rpartition(":")
        if_exists = base.endswith("IfExists")
        base = base[: -len("IfExists")] if if_exists else base
        for key, want in kv.items():
            wants = [str(w) if not isinstance(w, bool) else str(w).lower() for w in as_list(want)]
            have = ctx.get(key)
            if base == "Null":
                absent = have is None or have == []
                if (wants[0].lower() == "true") != absent:
                    return False
                continue
            negated = base in NEGATED
            if qualifier in ("ForAllValues", "ForAnyValue"):
                values = [str(v) for v in as_list(have)]

                def value_holds(v):
                    # A negated operator holds for a value that matches none of the policy's values.
                    hit = any(_string_op(base, v, w, ctx) for w in wants)
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
            hit = any(_string_op(base, str(have), w, ctx) for w in wants)
            if hit == negated:
                return False
    return True


def statement_applies(st, req):
    if "Action" in st:
        if not any(glob(a, req.action, case=False) for a in as_list(st["Action"])):
            return False
    elif any(glob(a, req.action, case=False) for a in as_list(st.get("NotAction"))):
        return False
    patterns = as_list(st.get("Resource", st.get("NotResource")))
    hits = False
    for p in patterns:
        p = substitute(p, req.context)
        if p is not None and glob(p, req.resource):
            hits = True
            break
    if ("Resource" in st) != hits:
        return False
    return condition_holds(st.get("Condition"), req.context)


def decide(docs, req):
    """ALLOW, DENY (explicit) or IMPLICIT for one set of policies."""
    allowed = False
    for doc in docs:
        for st in statements(doc):
            if statement_applies(st, req):
                if st["Effect"] == "Deny":
                    return DENY
                allowed = True
    return ALLOW if allowed else IMPLICIT


def evaluate(identity_docs, req, boundary_docs=None):
    """The decision for `req` by a principal with `identity_docs` and an optional boundary."""
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

