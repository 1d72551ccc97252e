"""Web identity for the authorizing layers: OIDC issuers the tests control, the tokens they mint,
and the checks STS makes before it answers AssumeRoleWithWebIdentity — which moto does not make.

moto 5.2.1 answers sts:AssumeRoleWithWebIdentity without reading the token: no signature, issuer,
audience or subject check, no trust-policy evaluation, not even a role-existence check
(moto/sts/models.py `assume_role_with_web_identity` -> `assume_role`; docstring "the role does not
need to exist"), and the request is unsigned (moto_server/werkzeug_app.py UNSIGNED_ACTIONS). So the
layer in front of moto makes every check itself and fails closed; `WebIdentity.checked` counts each
check passed, `WebIdentity.refused` each refusal with its reason.

What STS checks, and how it answers when a check fails (IAM User Guide id_roles_providers_oidc.html,
id_roles_providers_create_oidc.html; STS API Reference AssumeRoleWithWebIdentity, "Errors"):
- the token is a JWT signed by a key the issuer publishes (its JWKS), `iss` names an IAM OIDC
  provider of the account (`arn:aws:iam::ACCOUNT:oidc-provider/<iss without https://>`), `aud` is
  one of that provider's client IDs, `exp` is not past -> else InvalidIdentityToken (400) or
  ExpiredTokenException (400);
- the role's trust policy allows the provider (Principal Federated) under conditions on the token's
  claims -> else AccessDenied (403) "Not authorized to perform sts:AssumeRoleWithWebIdentity".
The claims reach the trust policy as `<iss host[/path]>:<claim>` condition keys: the generic OIDC
keys `:sub`, `:aud` (IAM User Guide reference_policies_iam-condition-keys.html, "Available keys for
AWS OIDC federation") and the provider-specific keys the Service Authorization Reference lists for
sts:AssumeRoleWithWebIdentity (e.g. `token.actions.githubusercontent.com:repository_id`,
`:environment`, `:ref`; read from the catalog, iam-data, via independent_engine.catalog).

GitHub's token (docs.github.com, "OpenID Connect reference", github/docs
content/actions/reference/security/oidc.md): issuer https://token.actions.githubusercontent.com,
`aud` sts.amazonaws.com when configure-aws-credentials asks for it (its `audience` input default),
and `sub` by precedence: a job with an environment gets `repo:O/R:environment:ENV` (even for a pull
request), else a pull_request event `repo:O/R:pull_request`, else `repo:O/R:ref:<ref>`; a `:` in a
value is encoded `%3A`.
"""
import base64
import json
import re
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

import boto3
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from harness import ACCOUNT, REGION
from iam_eval import ALLOW, Caller, Request, evaluate_trust

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Issuer:
    """An OIDC issuer the tests control: its URL and its RS256 signing key (GitHub signs its
    tokens with RS256 and publishes the keys at <issuer>/.well-known/jwks)."""

    def __init__(self, url=GITHUB_ISSUER, kid="harness-1"):
        self.url, self.kid = url, kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def host_path(self):
        """The issuer as IAM names it: the provider ARN's resource and the condition-key prefix."""
        return self.url.split("://", 1)[1].rstrip("/")

    @property
    def provider_arn(self):
        return f"arn:aws:iam::{ACCOUNT}:oidc-provider/{self.host_path}"

    def mint(self, claims, lifetime=300, now=None, key=None, alg="RS256", iss=None):
        """A signed JWT with `claims` (plus iss, iat, nbf, exp); `key` signs it instead of the
        issuer's own key (a forger), `alg` other than RS256 is written unsigned."""
        now = int(now if now is not None else time.time())
        body = {"iss": iss or self.url, "iat": now, "nbf": now - 5, "exp": now + lifetime, **claims}
        header = {"alg": alg, "typ": "JWT", "kid": self.kid}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
        signature = b""
        if alg == "RS256":
            signature = (key or self.key).sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"


def _claim(value):
    return str(value).replace(":", "%3A")


def github_claims(repository, environment=None, ref="refs/heads/main", event="push", aud=STS_AUDIENCE,
                  repository_id="100001", owner_id="200001", **extra):
    """The claims GitHub puts in a job's token (github/docs oidc.md, "Understanding the OIDC
    token"), `sub` in its default format with the documented precedence."""
    if environment is not None:
        context = f"environment:{_claim(environment)}"
    elif event == "pull_request":
        context = "pull_request"
    else:
        context = f"ref:{_claim(ref)}"
    owner = repository.split("/")[0]
    claims = {
        "sub": f"repo:{repository}:{context}", "aud": aud, "repository": repository, "repository_owner": owner,
        "repository_id": repository_id, "repository_owner_id": owner_id, "ref": ref,
        "ref_type": "tag" if ref.startswith("refs/tags/") else "branch", "event_name": event,
        "actor": "octocat", "actor_id": "300001", "workflow": "deploy",
        "job_workflow_ref": f"{repository}/.github/workflows/deploy.yml@{ref}", "runner_environment": "github-hosted",
    }
    if environment is not None:
        claims["environment"] = environment
    claims.update(extra)
    return claims


_CATALOG_KEYS = {}
_catalog_lock = threading.Lock()


def catalog_keys():
    """The condition keys the Service Authorization Reference lists for sts:AssumeRoleWithWebIdentity."""
    with _catalog_lock:
        if "keys" not in _CATALOG_KEYS:
            import independent_engine
            entry = independent_engine.catalog(["sts:AssumeRoleWithWebIdentity"])["actions"]["sts:AssumeRoleWithWebIdentity"]
            _CATALOG_KEYS["keys"] = list(entry["conditionKeys"])
        return _CATALOG_KEYS["keys"]


def _carried(prefix, claim, keys):
    key = f"{prefix}:{claim}".lower()
    for k in keys:
        pattern = "".join("[^:]+" if part.startswith("${") else re.escape(part)
                          for part in re.split(r"(\$\{[^}]*\})", k.lower()))
        if re.fullmatch(pattern, key):
            return True
    return False


def claim_context(prefix, claims, keys):
    """The request context STS builds from a token: `<prefix>:sub` and `:aud`, and every other claim
    the catalog lists as a condition key of sts:AssumeRoleWithWebIdentity for this issuer."""
    ctx = {}
    for claim, value in claims.items():
        if claim in ("sub", "aud") or _carried(prefix, claim, keys):
            if isinstance(value, (str, int, float, bool)):
                ctx[f"{prefix}:{claim}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return ctx


@dataclass
class Refusal:
    code: str
    status: int
    message: str
    reason: str  # what failed: signature, issuer, expiry, provider, audience, role, trust, malformed


@dataclass
class Assumed:
    """What an allowed request assumes: the role, and the evaluation that allowed it."""
    role_arn: str
    role_name: str
    context: dict = field(default_factory=dict)


def role_documents(iam, role_name):
    """(role ARN, identity documents, boundary documents or None, tags) of a role as IAM holds it:
    its inline and attached managed policies, its permissions boundary, its tags."""
    role = iam.get_role(RoleName=role_name)["Role"]
    docs = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        docs.append(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        docs.append(_managed(iam, attached["PolicyArn"]))
    boundary = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role_name).get("Tags", [])}
    return role["Arn"], docs, ([_managed(iam, boundary)] if boundary else None), tags


def install_boundary(iam, template, name="StageRoleBoundary"):
    """A managed policy of the provider's template in moto, as CloudFormation made it with the
    provider's stack (the provider only names it: a role's boundary must exist to be read back)."""
    arn = template.ref(name)
    path, _, policy = arn.split(":policy", 1)[1].rpartition("/")
    doc = template.resource(name)["PolicyDocument"]
    iam.create_policy(PolicyName=policy, Path=path + "/", PolicyDocument=json.dumps(doc))
    return arn


def _managed(iam, arn):
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    return json.loads(urllib.parse.unquote(doc)) if isinstance(doc, str) else doc


def _role_name(role_arn):
    m = re.fullmatch(r"arn:aws:iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)", role_arn or "")
    if not m or m.group(1) != ACCOUNT:
        return None
    return m.group(2)


def _trust(iam, role_name):
    doc = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    return json.loads(urllib.parse.unquote(doc)) if isinstance(doc, str) else doc


def issued_key(xml):
    """The AccessKeyId in STS's answer to an AssumeRole*."""
    m = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", xml or b"")
    return m.group(1).decode() if m else None


def issued_token(xml):
    """The SessionToken in STS's answer to an AssumeRole*."""
    m = re.search(rb"<SessionToken>([^<]+)</SessionToken>", xml or b"")
    return m.group(1).decode() if m else None


def presented_token(headers, query=""):
    """The session token a request carries: SigV4's X-Amz-Security-Token header, or the query
    parameter of a pre-signed URL."""
    for k, v in headers.items():
        if k.lower() == "x-amz-security-token":
            return v
    return urllib.parse.parse_qs(query).get("X-Amz-Security-Token", [None])[0]


class WebIdentity:
    """STS's checks of AssumeRoleWithWebIdentity (and the trust-policy check of a signed
    AssumeRole), against moto's IAM at `moto_port`; `issuers` are those whose keys the layer trusts
    (what it would fetch from their JWKS)."""

    def __init__(self, moto_port, issuers=()):
        self.iam = boto3.client("iam", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name=REGION,
                                aws_access_key_id="authz", aws_secret_access_key="authz")
        self.issuers = {i.url: i for i in issuers}
        self.checked = Counter()
        self.refused = []
        self.lock = threading.Lock()

    def trust(self, *issuers):
        for i in issuers:
            self.issuers[i.url] = i

    def _no(self, code, status, message, reason):
        r = Refusal(code, status, message, reason)
        with self.lock:
            self.refused.append(r)
        return r

    def _passed(self, *checks):
        with self.lock:
            self.checked.update(checks)

    def verify(self, token):
        """(claims, issuer) of a valid token, or a Refusal."""
        bad = "InvalidIdentityToken"
        try:
            head, body, sig = token.split(".")
            header, claims = json.loads(_unb64(head)), json.loads(_unb64(body))
        except Exception:  # noqa: BLE001 - not a JWT
            return self._no(bad, 400, "The ID token provided is not a valid JWT", "malformed")
        issuer = self.issuers.get(claims.get("iss"))
        if issuer is None:
            # STS cannot fetch keys of an issuer that is not this one (or has no provider).
            return self._no(bad, 400, f"No OpenIDConnect provider found in your account for {claims.get('iss')}", "issuer")
        if header.get("alg") != "RS256" or header.get("kid") != issuer.kid:
            return self._no(bad, 400, "Token signature algorithm or key id is not the issuer's", "signature")
        try:
            issuer.key.public_key().verify(_unb64(sig), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return self._no(bad, 400, "Invalid token signature", "signature")
        self._passed("signature", "issuer")
        now = time.time()
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
            return self._no("ExpiredTokenException", 400, "Token expired", "expiry")
        if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + 60:
            return self._no(bad, 400, "Token is not valid yet", "expiry")
        self._passed("expiry")
        try:
            provider = self.iam.get_open_id_connect_provider(OpenIDConnectProviderArn=issuer.provider_arn)
        except self.iam.exceptions.NoSuchEntityException:
            return self._no(bad, 400, f"No OpenIDConnect provider found in your account for {issuer.url}", "provider")
        self._passed("provider")
        audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        if not any(a in provider.get("ClientIDList", []) for a in audiences):
            return self._no(bad, 400, "Incorrect token audience", "audience")
        self._passed("audience")
        return claims, issuer

    def _role_trust(self, name, role_arn):
        """The trust policy of the role `role_arn` names (None: no such role at that path)."""
        try:
            trust = _trust(self.iam, name) if name else None
        except self.iam.exceptions.NoSuchEntityException:
            return None
        if trust is None or self.iam.get_role(RoleName=name)["Role"]["Arn"] != role_arn:
            return None
        return trust

    def assume_with_web_identity(self, form):
        """An Assumed for a request STS would answer, or a Refusal."""
        token, role_arn = form.get("WebIdentityToken", ""), form.get("RoleArn", "")
        verified = self.verify(token)
        if isinstance(verified, Refusal):
            return verified
        claims, issuer = verified
        name = _role_name(role_arn)
        denied = f"Not authorized to perform sts:AssumeRoleWithWebIdentity on {role_arn}"
        trust = self._role_trust(name, role_arn)
        if trust is None:
            return self._no("AccessDenied", 403, denied, "role")
        ctx = claim_context(issuer.host_path, claims, catalog_keys())
        ctx["sts:RoleSessionName"] = form.get("RoleSessionName", "")
        req = Request("sts:AssumeRoleWithWebIdentity", role_arn, ctx)
        if evaluate_trust(trust, req, Caller("federated", issuer.provider_arn, ACCOUNT)) != ALLOW:
            return self._no("AccessDenied", 403, denied, "trust")
        self._passed("trust")
        return Assumed(role_arn, name, ctx)

    def assume_role(self, form, caller_arn, identity_docs, boundary_docs=None, tags=None):
        """sts:AssumeRole by a signed caller (an IAM user, or a session of the role `caller_arn`):
        the role's trust policy and, when it names only the account, the caller's own policies."""
        role_arn = form.get("RoleArn", "")
        name = _role_name(role_arn)
        denied = f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        trust = self._role_trust(name, role_arn)
        if trust is None:
            return self._no("AccessDenied", 403, denied, "role")
        kind = "role" if ":role/" in caller_arn else "user"
        session = None
        if kind == "role":
            session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{caller_arn.rsplit('/', 1)[1]}/{form.get('RoleSessionName', '')}"
        ctx = {"aws:PrincipalArn": caller_arn, "aws:PrincipalAccount": ACCOUNT, "aws:RequestedRegion": REGION,
               "sts:RoleSessionName": form.get("RoleSessionName", "")}
        for k, v in (tags or {}).items():
            ctx[f"aws:PrincipalTag/{k}"] = v
        if form.get("ExternalId"):
            ctx["sts:ExternalId"] = form["ExternalId"]
        req = Request("sts:AssumeRole", role_arn, ctx)
        decision = evaluate_trust(trust, req, Caller(kind, caller_arn, ACCOUNT, session), identity_docs, boundary_docs)
        if decision != ALLOW:
            return self._no("AccessDenied", 403, denied, "trust")
        self._passed("trust")
        return Assumed(role_arn, name, ctx)

    def session(self, assumed):
        """The principal a key issued for `assumed` acts as: (role ARN, identity docs, boundary, tags)."""
        return role_documents(self.iam, assumed.role_name)


def error_xml(refusal):
    return (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            f"<Code>{refusal.code}</Code><Message>{refusal.message}</Message></Error>"
            f"<RequestId>authz</RequestId></ErrorResponse>").encode()
