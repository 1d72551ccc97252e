"""Canaries for the two authorizing layers (authz.py in front of the provider, deployer_authz.py in
front of the real deployer): each layer refuses, and records, a call its principal may not make, a
request signed with an access key it does not know, an unsigned request and one it cannot decode; a
pre-signed request is attributed to the key that signed it. If a layer let any of these through,
every other test's "no denials" would prove nothing.

Each canary also makes one allowed call, so the teardown's "the layer checked something" holds, and
announces its refusals with expect_denials (the teardown fails on any it did not announce)."""
import json
import urllib.error
import urllib.parse
import urllib.request
from types import SimpleNamespace

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import PROVIDER_KEY
from harness import REGION, iam_snapshot

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def client(service, url, key, **kw):
    return boto3.client(service, endpoint_url=url, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key="secret", config=Config(retries={"max_attempts": 1}, **kw))


def refused(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response


# --- in front of the provider ------------------------------------------------------------------
@pytest.mark.expect_denials("iam:PutRolePolicy")
def test_a_call_the_provider_role_may_not_make_is_refused_and_recorded(deployments, iam):
    d = deployments()
    iam.create_role(RoleName="someone-elses", Path="/teams/", AssumeRolePolicyDocument=TRUST)
    as_provider = client("iam", d.proxy.url, PROVIDER_KEY)
    as_provider.list_roles(PathPrefix="/serverless-access/")  # its role allows this
    answer = refused(lambda: as_provider.put_role_policy(RoleName="someone-elses", PolicyName="escalate", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})))
    assert answer["Error"]["Code"] == "AccessDenied"
    (denial,) = d.authorizer.denials
    assert (denial.kind, denial.action, denial.resource) == ("denied", "iam:PutRolePolicy", "arn:aws:iam::123456789012:role/teams/someone-elses")
    assert iam.list_role_policies(RoleName="someone-elses")["PolicyNames"] == [], "nothing reached moto"
    assert d.authorizer.authorized == 1


@pytest.mark.expect_denials("unattributed")
def test_a_request_signed_with_an_unknown_key_is_refused_and_recorded(deployments, iam):
    d = deployments()
    client("iam", d.proxy.url, PROVIDER_KEY).list_roles(PathPrefix="/serverless-access/")
    answer = refused(lambda: client("iam", d.proxy.url, "AKIAUNKNOWNKEY000001").create_group(GroupName="intruders"))
    assert answer["Error"]["Code"] == "AccessDenied"
    (denial,) = d.authorizer.denials
    assert denial.kind == "unattributed" and "AKIAUNKNOWNKEY000001" in denial.detail
    assert not iam.list_groups()["Groups"], "nothing reached moto"
    kms_answer = refused(lambda: client("kms", d.proxy.url, "AKIAUNKNOWNKEY000001").list_keys())
    assert kms_answer["Error"]["Code"] == "AccessDeniedException"


@pytest.mark.expect_denials("unattributed")
def test_an_unsigned_request_is_refused_and_recorded(deployments, iam):
    d = deployments()
    client("iam", d.proxy.url, PROVIDER_KEY).list_roles(PathPrefix="/serverless-access/")
    req = urllib.request.Request(d.proxy.url + "/", data=b"Action=CreateGroup&GroupName=intruders&Version=2010-05-08",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 403 and b"<Code>AccessDenied</Code>" in e.value.read()
    (denial,) = d.authorizer.denials
    assert (denial.kind, denial.detail) == ("unattributed", "unsigned request")
    assert not iam.list_groups()["Groups"], "nothing reached moto"


@pytest.mark.expect_denials("undecodable")
def test_a_provider_request_the_layer_cannot_decode_is_refused_and_recorded(deployments, iam):
    d = deployments()
    as_provider = client("iam", d.proxy.url, PROVIDER_KEY)
    as_provider.list_roles(PathPrefix="/serverless-access/")
    refused(lambda: as_provider.create_user(UserName="intruder"))  # not an action the layer models
    (denial,) = d.authorizer.denials
    assert (denial.kind, denial.action) == ("undecodable", "iam:CreateUser")
    assert not iam.list_users()["Users"], "nothing reached moto"


def test_the_response_channel_is_the_pre_signed_url_to_s3_and_bypasses_the_authorizing_proxy(cfn, aws):
    # CloudFormation's answer travels by a pre-signed S3 PUT that carries its own signature; the
    # provider's credentials play no part, so the layer that authorizes them never sees it.
    ev = cfn.event("Create", {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api"}]})
    url = urllib.parse.urlsplit(ev["ResponseURL"])
    assert url.port == aws.port and "Signature=" in url.query
    assert cfn.send(ev)["Status"] == "SUCCESS", "the answer arrived in S3"
    assert iam_snapshot(aws.client("iam"))["roles"]


# --- in front of the deployer ------------------------------------------------------------------
@pytest.fixture()
def reader(aws, iam, deployer_proxy):
    """A user whose group may read one bucket's objects and list it, behind a deployer proxy."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="canary-bucket")
    s3.put_object(Bucket="canary-bucket", Key="artifact.zip", Body=b"zip")
    iam.create_group(GroupName="canary-readers")
    iam.put_group_policy(GroupName="canary-readers", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::canary-bucket/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::canary-bucket"}]}))
    iam.create_user(UserName="canary")
    iam.add_user_to_group(GroupName="canary-readers", UserName="canary")
    key = iam.create_access_key(UserName="canary")["AccessKey"]
    proxy = deployer_proxy({key["AccessKeyId"]: "canary"})
    url = f"http://127.0.0.1:{proxy.port}"
    s3_as_user = boto3.client("s3", endpoint_url=url, region_name=REGION, aws_access_key_id=key["AccessKeyId"],
                              aws_secret_access_key=key["SecretAccessKey"],
                              config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    return SimpleNamespace(proxy=proxy, url=url, s3_as_user=s3_as_user, s3=s3, key=key)


@pytest.mark.expect_denials("s3:PutObject")
def test_a_call_the_deployers_group_may_not_make_is_refused_and_recorded(reader):
    proxy, s3_as_user, s3 = reader.proxy, reader.s3_as_user, reader.s3
    assert s3_as_user.get_object(Bucket="canary-bucket", Key="artifact.zip")["Body"].read() == b"zip"
    answer = refused(lambda: s3_as_user.put_object(Bucket="canary-bucket", Key="artifact.zip", Body=b"evil"))
    assert answer["Error"]["Code"] == "AccessDenied"
    assert [(d.action, d.resource) for d in proxy.refused()] == [("s3:PutObject", "arn:aws:s3:::canary-bucket/artifact.zip")]
    assert s3.get_object(Bucket="canary-bucket", Key="artifact.zip")["Body"].read() == b"zip", "nothing reached moto"


@pytest.mark.expect_denials("unattributed")
def test_a_deployer_request_with_an_unknown_key_is_refused_and_recorded(reader):
    proxy, url, s3_as_user, s3 = reader.proxy, reader.url, reader.s3_as_user, reader.s3
    s3_as_user.head_object(Bucket="canary-bucket", Key="artifact.zip")
    stranger = boto3.client("s3", endpoint_url=url, region_name=REGION, aws_access_key_id="AKIAUNKNOWNKEY000002",
                            aws_secret_access_key="x", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    answer = refused(lambda: stranger.put_object(Bucket="canary-bucket", Key="dropped.zip", Body=b"x"))
    assert answer["Error"]["Code"] == "AccessDenied"
    assert [u[0] for u in proxy.unattributed] == ["AKIAUNKNOWNKEY000002"]
    assert "Contents" not in s3.list_objects_v2(Bucket="canary-bucket", Prefix="dropped"), "nothing reached moto"


@pytest.mark.expect_denials("unattributed")
def test_an_unsigned_deployer_request_is_refused_and_recorded(reader):
    proxy, url, s3_as_user, s3 = reader.proxy, reader.url, reader.s3_as_user, reader.s3
    s3_as_user.list_objects_v2(Bucket="canary-bucket")
    anonymous = boto3.client("s3", endpoint_url=url, region_name=REGION,
                             config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    answer = refused(lambda: anonymous.get_object(Bucket="canary-bucket", Key="artifact.zip"))
    assert answer["Error"]["Code"] == "AccessDenied"
    assert [u[-1] for u in proxy.unattributed] == ["unsigned request"]


@pytest.mark.expect_denials("undecodable")
def test_a_deployer_request_the_layer_cannot_decode_is_refused_and_recorded(reader):
    proxy, s3_as_user, s3 = reader.proxy, reader.s3_as_user, reader.s3
    s3_as_user.get_object(Bucket="canary-bucket", Key="artifact.zip")
    refused(lambda: s3_as_user.put_bucket_cors(Bucket="canary-bucket", CORSConfiguration={
        "CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}))
    assert len(proxy.undecodable) == 1 and "cors" in proxy.undecodable[0][-1]
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket="canary-bucket")  # nothing reached moto


@pytest.mark.expect_denials("s3:PutObject")
@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_a_pre_signed_request_is_attributed_to_the_key_that_signed_it(reader, version):
    proxy, url, s3_as_user, s3 = reader.proxy, reader.url, reader.s3_as_user, reader.s3
    signer = boto3.client("s3", endpoint_url=url, region_name=REGION, aws_access_key_id=reader.key["AccessKeyId"],
                          aws_secret_access_key=reader.key["SecretAccessKey"],
                          config=Config(signature_version=version, s3={"addressing_style": "path"}))
    get = signer.generate_presigned_url("get_object", Params={"Bucket": "canary-bucket", "Key": "artifact.zip"}, ExpiresIn=300)
    assert ("X-Amz-Credential=" if version == "s3v4" else "AWSAccessKeyId=") in get
    assert urllib.request.urlopen(get, timeout=10).read() == b"zip"
    put = signer.generate_presigned_url("put_object", Params={"Bucket": "canary-bucket", "Key": "artifact.zip"}, ExpiresIn=300)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(put, data=b"evil", method="PUT"), timeout=10)
    assert e.value.code == 403
    assert not proxy.unattributed, "both were attributed to the user"
    assert [(d.user, d.action, d.allowed) for d in proxy.decisions] == [("canary", "s3:GetObject", True), ("canary", "s3:PutObject", False)]
    assert s3.get_object(Bucket="canary-bucket", Key="artifact.zip")["Body"].read() == b"zip"
