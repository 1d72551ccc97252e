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
  checks; ValidateTemplate on `*`; with a TemplateURL, the caller's `s3:GetObject` of the template.
- S3: strictly, one API operation per request (method, sub-resource, query parameters, headers) and
  every action it needs, with the request's condition keys; anything else is undecodable (sources
  and table below `decode_s3`).
- Lambda: function operations on the function's ARN (a Qualifier appended), `iam:PassRole` of a Role
  to `lambda.amazonaws.com`, `lambda:SubnetIds` / `lambda:SecurityGroupIds` from a VpcConfig.
- CloudWatch Logs on the log group; SSM GetParameter on the parameter; CloudWatch metrics on `*`;
  ECR DescribeRepositories on the repository.
- STS GetCallerIdentity needs no permission. AssumeRoleWithWebIdentity (unsigned) is decided as STS
  decides it (web_identity.py: token, OIDC provider, audience, the role's trust policy); the key
  moto issues for an allowed one then acts as the role (its inline and attached policies, its
  boundary, its tags), as configure-aws-credentials hands such keys to the deployer.

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
from web_identity import Assumed, Refusal, WebIdentity, error_xml, issued_key, issued_token, presented_token

STACK_WRITES = {"CreateStack", "UpdateStack", "CreateChangeSet", "DeleteStack"}


class Undecodable(Exception):
    pass


@dataclass
class Decision:
    """One action a request needed, and whether the user's policies allow it; `via` is the action
    of the request itself (a CreateChangeSet's template read is `s3:GetObject` via
    `cloudformation:CreateChangeSet`)."""
    user: str
    action: str
    resource: str
    context: dict
    allowed: bool
    via: str = ""


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


TEMPLATE_READERS = {"CreateStack", "UpdateStack", "CreateChangeSet", "ValidateTemplate"}


def template_object(url):
    """The S3 object ARN a TemplateURL names: path-style (`https://s3[.region].amazonaws.com/bucket/key`,
    or the local endpoint serverless-localstack substitutes, `http://127.0.0.1:PORT/bucket/key`) or
    virtual-hosted (`https://bucket.s3[.region].amazonaws.com/key`)."""
    u = urllib.parse.urlsplit(url)
    host, path = u.hostname or "", urllib.parse.unquote(u.path).lstrip("/")
    m = re.fullmatch(r"(.+)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com", host)
    if m and path:
        return f"arn:aws:s3:::{m.group(1)}/{path}"
    if (re.fullmatch(r"s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com", host) or host in ("127.0.0.1", "localhost")) and "/" in path:
        return f"arn:aws:s3:::{path}"
    raise Undecodable(f"TemplateURL {url!r} names no S3 object")


def decode_cloudformation(form):
    action = form.get("Action", "")
    # CloudFormation reads a TemplateURL with the caller's credentials: the caller needs s3:GetObject
    # on the template ("TemplateURL must reference a valid S3 object to which you have access";
    # AWS re:Post Knowledge Center, "cfn-s3-access-denied-error": the identity used with CreateStack or
    # CreateChangeSet needs GetObject on the template; serverless/serverless#2775, the same error
    # for a deployer's policy).
    reads = []
    if action in TEMPLATE_READERS and form.get("TemplateURL"):
        reads.append(("s3:GetObject", template_object(form["TemplateURL"]), {"s3:ResourceAccount": ACCOUNT}))
    if action in ("ValidateTemplate", "ListStacks", "DescribeStacks") and not form.get("StackName"):
        return [(f"cloudformation:{action}", "*", {})] + reads
    if "StackName" not in form:
        raise Undecodable(f"cloudformation:{action} without StackName")
    ctx = {}
    requests = []
    if action in STACK_WRITES and form.get("RoleARN"):
        ctx["cloudformation:RoleArn"] = form["RoleARN"]
        requests.append(("iam:PassRole", form["RoleARN"], {"iam:PassedToService": "cloudformation.amazonaws.com"}))
    return [(f"cloudformation:{action}", _stack_arn(form["StackName"]), ctx)] + requests + reads


# S3, decoded strictly: each request is matched to one API operation by method, sub-resource and
# headers, and mapped to every IAM action that operation needs; a request that matches no operation
# listed here (an unknown sub-resource or query parameter, two sub-resources, a header that would
# need rights not modelled) is undecodable and refused.
#
# Sources (operation -> actions):
# - [API] the "Permissions" section of each operation in the Amazon S3 API Reference, as shipped in
#   botocore's s3 service model (botocore/data/s3/2006-03-01/service-2.json, botocore 1.43): PutObject
#   "s3:PutObject ... s3:PutObjectAcl - to change the object's ACL ... s3:PutObjectTagging - to set the
#   tag-set"; CopyObject "s3:GetObject permission to read the source object ... s3:PutObject to write
#   the copy"; CreateBucket "if you specify an ACL ... s3:PutBucketAcl; x-amz-bucket-object-lock-enabled
#   ... s3:PutBucketObjectLockConfiguration and s3:PutBucketVersioning; x-amz-object-ownership ...
#   s3:PutBucketOwnershipControls; ACL private or none: only s3:CreateBucket"; HeadBucket
#   "s3:ListBucket"; HeadObject/GetObject "s3:GetObject", with versionId "s3:GetObjectVersion";
#   DeleteObject(s) "s3:DeleteObject", with a version "s3:DeleteObjectVersion"; ListObjectsV2
#   "s3:ListBucket"; ListObjectVersions "s3:ListBucketVersions"; Get/Put/DeleteObjectTagging
#   "s3:Get/Put/DeleteObjectTagging", another version "also s3:...VersionTagging"; PutObjectRetention
#   "s3:PutObjectRetention", bypassing governance "s3:BypassGovernanceRetention"; DeleteBucketLifecycle
#   "s3:PutLifecycleConfiguration"; DeleteBucketEncryption "s3:PutEncryptionConfiguration";
#   DeletePublicAccessBlock "s3:PutBucketPublicAccessBlock"; DeleteBucketOwnershipControls
#   "s3:PutBucketOwnershipControls"; DeleteBucketTagging "s3:PutBucketTagging";
#   Get/PutBucketNotificationConfiguration "s3:Get/PutBucketNotification"; GetObjectAttributes
#   "s3:GetObjectAttributes", with versionId "s3:GetObjectVersionAttributes".
# - [MPU] Amazon S3 User Guide, "Multipart upload API and permissions" (mpuoverview): Create/
#   Complete multipart upload and Upload Part "s3:PutObject", Upload Part (Copy) also "s3:GetObject on
#   the source", Stop (Abort) "s3:AbortMultipartUpload", List Parts "s3:ListMultipartUploadParts",
#   List Multipart Uploads "s3:ListBucketMultipartUploads".
# - [SAR] Service Authorization Reference, "Actions, resources, and condition keys for Amazon S3"
#   (list_amazons3 / list_s3, its table of API operations): same-named actions for GetObjectAcl /
#   PutObjectAcl (s3:GetObjectVersionAcl / s3:PutObjectVersionAcl for a version), Get/PutBucketAcl,
#   Get/PutBucketVersioning, Get/PutBucketPolicy, DeleteBucketPolicy, GetBucketLocation,
#   Get/PutObjectLegalHold, GetObjectRetention, GetLifecycleConfiguration,
#   GetEncryptionConfiguration, GetBucketPublicAccessBlock, GetBucketOwnershipControls,
#   GetBucketTagging; ListObjects (v1) authorized as s3:ListBucket. Condition keys s3:prefix,
#   s3:delimiter, s3:max-keys (listings), s3:x-amz-acl, s3:x-amz-copy-source,
#   s3:x-amz-server-side-encryption, s3:x-amz-storage-class, s3:x-amz-metadata-directive,
#   s3:RequestObjectTagKeys and s3:RequestObjectTag/<key> (uploads), s3:versionid.
# test_deployer_decoding.py checks every action and resource type emitted against the catalog.

# Query parameters that authenticate (pre-signed URLs) or only label the request (the JavaScript
# SDK v3 adds `x-id=<Operation>`): they select no operation.
S3_AUTH_PARAMS = {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
                  "X-Amz-Signature", "X-Amz-Security-Token", "AWSAccessKeyId", "Signature", "Expires", "x-id"}
_LIST_V1 = {"prefix", "delimiter", "marker", "max-keys", "encoding-type"}
_LIST_V2 = {"list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after", "fetch-owner", "encoding-type"}
_LIST_VERSIONS = {"versions", "prefix", "delimiter", "key-marker", "version-id-marker", "max-keys", "encoding-type"}
_LIST_UPLOADS = {"uploads", "prefix", "delimiter", "key-marker", "upload-id-marker", "max-uploads", "encoding-type"}
_GET_OBJECT = {"versionId", "partNumber", "response-cache-control", "response-content-disposition",
               "response-content-encoding", "response-content-language", "response-content-type", "response-expires"}

# Bucket sub-resources: {sub-resource: {method: actions}} ([API], [SAR]).
BUCKET_SUBRESOURCES = {
    "location": {"GET": ["s3:GetBucketLocation"]},
    "versioning": {"GET": ["s3:GetBucketVersioning"], "PUT": ["s3:PutBucketVersioning"]},
    "policy": {"GET": ["s3:GetBucketPolicy"], "PUT": ["s3:PutBucketPolicy"], "DELETE": ["s3:DeleteBucketPolicy"]},
    "lifecycle": {"GET": ["s3:GetLifecycleConfiguration"], "PUT": ["s3:PutLifecycleConfiguration"],
                  "DELETE": ["s3:PutLifecycleConfiguration"]},
    "encryption": {"GET": ["s3:GetEncryptionConfiguration"], "PUT": ["s3:PutEncryptionConfiguration"],
                   "DELETE": ["s3:PutEncryptionConfiguration"]},
    "publicAccessBlock": {"GET": ["s3:GetBucketPublicAccessBlock"], "PUT": ["s3:PutBucketPublicAccessBlock"],
                          "DELETE": ["s3:PutBucketPublicAccessBlock"]},
    "ownershipControls": {"GET": ["s3:GetBucketOwnershipControls"], "PUT": ["s3:PutBucketOwnershipControls"],
                          "DELETE": ["s3:PutBucketOwnershipControls"]},
    "notification": {"GET": ["s3:GetBucketNotification"], "PUT": ["s3:PutBucketNotification"]},
    "tagging": {"GET": ["s3:GetBucketTagging"], "PUT": ["s3:PutBucketTagging"], "DELETE": ["s3:PutBucketTagging"]},
    "acl": {"GET": ["s3:GetBucketAcl"], "PUT": ["s3:PutBucketAcl"]},
}

# Object sub-resources: {sub-resource: {method: (action, action with versionId or None)}} ([API], [SAR]).
OBJECT_SUBRESOURCES = {
    "acl": {"GET": ("s3:GetObjectAcl", "s3:GetObjectVersionAcl"), "PUT": ("s3:PutObjectAcl", "s3:PutObjectVersionAcl")},
    "tagging": {"GET": ("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
                "PUT": ("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
                "DELETE": ("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging")},
    "retention": {"GET": ("s3:GetObjectRetention", None), "PUT": ("s3:PutObjectRetention", None)},
    "legal-hold": {"GET": ("s3:GetObjectLegalHold", None), "PUT": ("s3:PutObjectLegalHold", None)},
    "attributes": {"GET": ("s3:GetObjectAttributes", "s3:GetObjectVersionAttributes")},
}

# ACL headers: a canned ACL or explicit grants ([API] PutObject, CreateBucket, PutObjectAcl).
ACL_HEADERS = ("x-amz-acl", "x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
               "x-amz-grant-full-control", "x-amz-grant-write")
# Headers whose rights are not modelled here: refused as undecodable rather than guessed.
UNMODELLED_HEADERS = ("x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold",
                      "x-amz-server-side-encryption-aws-kms-key-id")


def _s3_headers(headers):
    return {k.lower(): v for k, v in (headers or {}).items()}


def _s3_query(query):
    q = urllib.parse.parse_qs(query, keep_blank_values=True)
    return {k: v[0] for k, v in q.items() if k not in S3_AUTH_PARAMS}


def _only(q, allowed, what):
    extra = set(q) - set(allowed)
    if extra:
        raise Undecodable(f"s3 {what} with query parameters {sorted(extra)}")


def _object_write_context(h, base):
    """Condition keys of an object write, from its headers ([SAR] condition keys of s3:PutObject)."""
    ctx = dict(base)
    for header in ("x-amz-acl", "x-amz-server-side-encryption", "x-amz-storage-class", "x-amz-copy-source",
                   "x-amz-metadata-directive", "x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
                   "x-amz-grant-full-control", "x-amz-grant-write"):
        if header in h:
            ctx[f"s3:{header}"] = h[header]
    if "x-amz-tagging" in h:
        tags = urllib.parse.parse_qs(h["x-amz-tagging"], keep_blank_values=True)
        ctx["s3:RequestObjectTagKeys"] = sorted(tags)
        for k, v in tags.items():
            ctx[f"s3:RequestObjectTag/{k}"] = v[0]
    return ctx


def _copy_source(h, base):
    """The read of the source object that a copy needs ([API] CopyObject, [MPU] Upload Part (Copy)):
    `x-amz-copy-source: bucket/key[?versionId=...]`, URL-encoded."""
    src, _, sq = h["x-amz-copy-source"].partition("?")
    src = urllib.parse.unquote(src).lstrip("/")
    if "/" not in src:
        raise Undecodable(f"s3 copy source {h['x-amz-copy-source']!r}")
    versioned = "versionId" in urllib.parse.parse_qs(sq)
    return ("s3:GetObjectVersion" if versioned else "s3:GetObject", f"arn:aws:s3:::{src}", dict(base))


def _object_write(h, base, arn):
    """PutObject / CopyObject / CreateMultipartUpload: s3:PutObject, plus s3:PutObjectAcl for ACL
    headers, s3:PutObjectTagging for x-amz-tagging ([API] PutObject), the source's read for a copy."""
    for header in UNMODELLED_HEADERS:
        if header in h:
            raise Undecodable(f"s3 object write with {header}: its rights are not modelled")
    if h.get("x-amz-server-side-encryption", "").startswith("aws:kms"):
        raise Undecodable("s3 object write with SSE-KMS: the KMS rights it needs are not modelled")
    ctx = _object_write_context(h, base)
    out = [("s3:PutObject", arn, ctx)]
    if any(x in h for x in ACL_HEADERS):
        out.append(("s3:PutObjectAcl", arn, ctx))
    if "x-amz-tagging" in h:
        out.append(("s3:PutObjectTagging", arn, ctx))
    if "x-amz-copy-source" in h:
        out.append(_copy_source(h, base))
    return out


_ACL_KEYS = {"s3:x-amz-acl", "s3:x-amz-grant-read", "s3:x-amz-grant-read-acp", "s3:x-amz-grant-write-acp",
             "s3:x-amz-grant-full-control", "s3:x-amz-grant-write"}
# Which request condition keys each action is evaluated with ([SAR], the actions' condition keys):
# the ACL headers with s3:PutObject and s3:Put*Acl, the tag keys with s3:PutObject and s3:Put*Tagging,
# s3:versionid with the *Version* actions only, the other header keys with s3:PutObject only.
_KEYS_OF = {
    "s3:PutObject": _ACL_KEYS | {"s3:x-amz-copy-source", "s3:x-amz-metadata-directive", "s3:x-amz-server-side-encryption",
                                 "s3:x-amz-storage-class", "s3:RequestObjectTagKeys", "s3:RequestObjectTag/"},
    "s3:PutObjectAcl": _ACL_KEYS | {"s3:x-amz-storage-class"},
    "s3:PutObjectVersionAcl": _ACL_KEYS | {"s3:x-amz-storage-class"},
    "s3:PutObjectTagging": {"s3:RequestObjectTagKeys", "s3:RequestObjectTag/"},
    "s3:PutObjectVersionTagging": {"s3:RequestObjectTagKeys", "s3:RequestObjectTag/"},
}
_ALWAYS = {"s3:ResourceAccount", "s3:prefix", "s3:delimiter", "s3:max-keys"}


def _scoped(action, ctx):
    def keeps(k):
        if k in _ALWAYS:
            return True
        if k == "s3:versionid":
            return "Version" in action
        keys = _KEYS_OF.get(action, set())
        return k in keys or (k.startswith("s3:RequestObjectTag/") and "s3:RequestObjectTag/" in keys)
    return {k: v for k, v in ctx.items() if keeps(k)}


def decode_s3(method, path, query, body, headers=None):
    """The IAM actions (action, resource ARN, condition context) an S3 request (path-style) needs,
    each with the condition keys it is evaluated with."""
    return [(a, r, _scoped(a, c)) for a, r, c in _decode_s3(method, path, query, body, headers)]


def _decode_s3(method, path, query, body, headers=None):
    h = _s3_headers(headers)
    parts = urllib.parse.unquote(path.lstrip("/")).split("/", 1)
    bucket, key = parts[0], (parts[1] if len(parts) > 1 else "")
    q = _s3_query(query)
    base = {"s3:ResourceAccount": ACCOUNT}
    if not bucket:
        raise Undecodable("s3 request without a bucket (ListBuckets is not modelled)")
    arn = f"arn:aws:s3:::{bucket}"
    subs = [k for k in q if k in BUCKET_SUBRESOURCES or k in OBJECT_SUBRESOURCES or k in ("versions", "uploads", "uploadId", "delete")]
    if len(subs) > 1:
        raise Undecodable(f"s3 {method} with several sub-resources {subs}")
    sub = subs[0] if subs else None
    if key:
        obj = f"{arn}/{key}"
        version = "versionId" in q
        vctx = dict(base, **({"s3:versionid": q["versionId"]} if version else {}))
        if sub in OBJECT_SUBRESOURCES:
            _only(q, {sub, "versionId"}, f"{method} ?{sub}")
            actions = OBJECT_SUBRESOURCES[sub].get(method)
            if not actions:
                raise Undecodable(f"s3 {method} ?{sub} on an object")
            plain, versioned = actions
            if version and not versioned:
                raise Undecodable(f"s3 {method} ?{sub} with a versionId is not modelled")
            if sub == "tagging":  # another version: "also" the version's action ([API])
                out = [(plain, obj, vctx)] + ([(versioned, obj, vctx)] if version else [])
            else:
                out = [(versioned if version else plain, obj, vctx)]
            if sub in ("acl", "tagging") and method == "PUT" and any(x in h for x in ACL_HEADERS + ("x-amz-tagging",)):
                out = [(a, r, _object_write_context(h, c)) for a, r, c in out]
            if sub == "retention" and method == "PUT" and h.get("x-amz-bypass-governance-retention", "").lower() == "true":
                out.append(("s3:BypassGovernanceRetention", obj, base))
            return out
        if sub == "uploads":
            _only(q, {"uploads"}, "?uploads")
            if method != "POST":
                raise Undecodable(f"s3 {method} ?uploads on an object")
            return _object_write(h, base, obj)  # CreateMultipartUpload ([MPU])
        if sub == "uploadId":
            if method == "PUT":  # UploadPart / UploadPartCopy ([MPU])
                _only(q, {"uploadId", "partNumber"}, "UploadPart")
                out = [("s3:PutObject", obj, base)]
                return out + ([_copy_source(h, base)] if "x-amz-copy-source" in h else [])
            if method == "POST":  # CompleteMultipartUpload ([MPU])
                _only(q, {"uploadId"}, "CompleteMultipartUpload")
                return [("s3:PutObject", obj, base)]
            if method == "DELETE":  # AbortMultipartUpload ([MPU])
                _only(q, {"uploadId"}, "AbortMultipartUpload")
                return [("s3:AbortMultipartUpload", obj, base)]
            if method == "GET":  # ListParts ([MPU])
                _only(q, {"uploadId", "max-parts", "part-number-marker"}, "ListParts")
                return [("s3:ListMultipartUploadParts", obj, base)]
            raise Undecodable(f"s3 {method} ?uploadId")
        if sub is not None:
            raise Undecodable(f"s3 {method} ?{sub} on an object")
        if method in ("GET", "HEAD"):  # GetObject / HeadObject ([API])
            _only(q, _GET_OBJECT, f"{method} object")
            return [("s3:GetObjectVersion" if version else "s3:GetObject", obj, vctx)]
        if method == "PUT":  # PutObject / CopyObject ([API])
            _only(q, set(), "PutObject")
            return _object_write(h, base, obj)
        if method == "DELETE":  # DeleteObject ([API])
            _only(q, {"versionId"}, "DeleteObject")
            out = [("s3:DeleteObjectVersion" if version else "s3:DeleteObject", obj, vctx)]
            if h.get("x-amz-bypass-governance-retention", "").lower() == "true":
                out.append(("s3:BypassGovernanceRetention", obj, base))
            return out
        raise Undecodable(f"s3 {method} on an object")
    if sub == "delete":  # DeleteObjects ([API])
        _only(q, {"delete"}, "DeleteObjects")
        if method != "POST":
            raise Undecodable(f"s3 {method} ?delete")
        if h.get("x-amz-bypass-governance-retention", "").lower() == "true":
            raise Undecodable("s3 DeleteObjects bypassing governance retention is not modelled")
        out = []
        for obj in ET.fromstring(body).iter():
            if obj.tag.endswith("Object"):
                k = next((c.text for c in obj if c.tag.endswith("Key")), "")
                versioned = any(c.tag.endswith("VersionId") for c in obj)
                out.append(("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", f"{arn}/{k}", base))
        if not out:
            raise Undecodable("s3 DeleteObjects naming no object")
        return out
    listing = dict(base, **{f"s3:{k}": q[k] for k in ("prefix", "delimiter", "max-keys") if k in q})
    if sub == "versions":  # ListObjectVersions ([API])
        _only(q, _LIST_VERSIONS, "ListObjectVersions")
        if method != "GET":
            raise Undecodable(f"s3 {method} ?versions")
        return [("s3:ListBucketVersions", arn, listing)]
    if sub == "uploads":  # ListMultipartUploads ([MPU])
        _only(q, _LIST_UPLOADS, "ListMultipartUploads")
        if method != "GET":
            raise Undecodable(f"s3 {method} ?uploads on a bucket")
        return [("s3:ListBucketMultipartUploads", arn, base)]
    if sub in BUCKET_SUBRESOURCES:
        _only(q, {sub}, f"{method} ?{sub}")
        actions = BUCKET_SUBRESOURCES[sub].get(method)
        if not actions:
            raise Undecodable(f"s3 {method} ?{sub} on a bucket")
        return [(a, arn, base) for a in actions]
    if sub is not None:
        raise Undecodable(f"s3 {method} ?{sub} on a bucket")
    if method == "HEAD":  # HeadBucket ([API])
        _only(q, set(), "HeadBucket")
        return [("s3:ListBucket", arn, base)]
    if method == "GET":  # ListObjects / ListObjectsV2 ([API], [SAR])
        if "list-type" in q:
            if q["list-type"] != "2":
                raise Undecodable(f"s3 list-type={q['list-type']}")
            _only(q, _LIST_V2, "ListObjectsV2")
        else:
            _only(q, _LIST_V1, "ListObjects")
        return [("s3:ListBucket", arn, listing)]
    if method == "PUT":  # CreateBucket ([API])
        _only(q, set(), "CreateBucket")
        out = [("s3:CreateBucket", arn, base)]
        if any(x in h for x in ACL_HEADERS) and not (set(h) & set(ACL_HEADERS) == {"x-amz-acl"} and h["x-amz-acl"] == "private"):
            out.append(("s3:PutBucketAcl", arn, base))
        if "x-amz-object-ownership" in h:
            out.append(("s3:PutBucketOwnershipControls", arn, base))
        if h.get("x-amz-bucket-object-lock-enabled", "").lower() == "true":
            out += [("s3:PutBucketObjectLockConfiguration", arn, base), ("s3:PutBucketVersioning", arn, base)]
        return out
    if method == "DELETE":  # DeleteBucket ([API])
        _only(q, set(), "DeleteBucket")
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

    def __init__(self, upstream_port, users, issuers=()):
        self.upstream_port = upstream_port
        # access key -> an IAM user's name, or the role (web_identity.Assumed) a session key acts as
        self.users = dict(users)
        self.web = WebIdentity(upstream_port, issuers)
        self.session_tokens = {}  # a session's access key -> its session token
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
            host = (headers.get("Host") or headers.get("host") or "").rsplit(":", 1)[0]
            if host not in ("127.0.0.1", "localhost"):
                raise Undecodable(f"s3 request to host {host!r}: only path-style requests are decoded")
            return decode_s3(method, path, query, body, headers)
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
        if method == "POST" and key is None and b"Action=AssumeRoleWithWebIdentity" in body:
            return self.assume_with_web_identity(method, raw_path, headers, body)
        user = self.users.get(key)
        with self.lock:
            self.seen.append((self.label(user), service, method, raw_path))
        if isinstance(user, Assumed) and presented_token(headers, query) != self.session_tokens.get(key):
            # STS's temporary keys are valid only with their session token (AWS answers
            # InvalidClientTokenId / "The security token included in the request is invalid").
            user, key = None, f"{key} without its session token"
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
            if isinstance(user, Assumed):
                principal, docs, boundary, tags = self.web.session(user)
            else:
                docs, boundary, tags = self.policies(user), None, {}
                principal = f"arn:aws:iam::{ACCOUNT}:user/{user}"
            for action, resource, ctx in requests:
                full = dict(ctx, **{"aws:RequestedRegion": REGION, "aws:PrincipalArn": principal},
                            **{f"aws:PrincipalTag/{k}": v for k, v in tags.items()})
                ok = evaluate(docs, Request(action, resource, full), boundary) == ALLOW
                with self.lock:
                    self.decisions.append(Decision(self.label(user), action, resource, ctx, ok, requests[0][0]))
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

    @staticmethod
    def label(user):
        """How decisions name a principal: the user's name, or `role/<name>` for a role's session."""
        return f"role/{user.role_name}" if isinstance(user, Assumed) else user

    def assume_with_web_identity(self, method, raw_path, headers, body):
        """STS's checks (moto makes none), then moto's answer; its key becomes the role's session."""
        form = _form(body)
        outcome = self.web.assume_with_web_identity(form)
        allowed = not isinstance(outcome, Refusal)
        with self.lock:
            self.seen.append(("web identity", "sts", method, raw_path))
            self.decisions.append(Decision("web identity", "sts:AssumeRoleWithWebIdentity", form.get("RoleArn", ""),
                                           outcome.context if allowed else {"reason": outcome.reason}, allowed))
        if not allowed:
            return outcome.status, {"Content-Type": "text/xml"}, error_xml(outcome)
        status, out_headers, data = self.forward(method, raw_path, headers, body)
        key = issued_key(data) if status == 200 else None
        with self.lock:
            if key:
                self.users[key] = outcome
                self.session_tokens[key] = issued_token(data)
                self.authorized += 1
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
