"""The access model end to end: groups, roles, grants through Create, Update, Delete."""
import json

import pytest

from harness import ACCOUNT, STACK_ID, iam_snapshot, our_grants
from proxy import Rule


def full(key_arn, **over):
    p = {
        "ServiceName": "orders", "Stage": "prod", "KmsKeyArn": key_arn, "Tags": {"team": "payments"},
        "Functions": [
            {"Name": "api", "Vpc": "true", "Kms": ["Decrypt", "GenerateDataKey"],
             "EncryptionContext": {"LambdaFunctionName": "orders-prod-api"},
             "Statements": [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                             "Resource": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"}]},
            {"Name": "worker", "Tracing": "true", "Kms": ["Decrypt"]},
        ],
    }
    p.update(over)
    return p


def writes_of_last_request(log_dir, request_id):
    for line in reversed((log_dir / "provider.log").read_text().splitlines()):
        rec = json.loads(line)
        if rec.get("span", {}).get("RequestId") == request_id and rec.get("fields", {}).get("message") == "reconciled":
            return rec["fields"]["applied"]
    raise AssertionError("no reconcile summary logged")


def test_create_makes_scoped_groups_roles_and_grants(cfn, iam, kms, key_arn):
    a = cfn.create(full(key_arn))
    assert a["Status"] == "SUCCESS", a
    snap = iam_snapshot(iam)
    assert sorted(snap["groups"]) == ["orders-prod-us-east-1-admin", "orders-prod-us-east-1-ci", "orders-prod-us-east-1-developer"]
    assert sorted(snap["roles"]) == ["orders-prod-us-east-1-api", "orders-prod-us-east-1-worker"]
    assert sorted(snap["policies"]) == ["orders-prod-us-east-1-deploy", "orders-prod-us-east-1-deploy-functions"]
    # The deployment role: CloudFormation only, under the deployment boundary, tagged with its stage.
    (name, deployer), = snap["deployment_roles"].items()
    assert name == "orders-prod-us-east-1.deploy"
    assert deployer["trust"]["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    assert deployer["boundary"] == cfn.provider_env["SERVERLESS_ACCESS_DEPLOYMENT_BOUNDARY_ARN"]
    assert deployer["tags"]["serverless-access:service"] == "orders" and deployer["tags"]["serverless-access:stage"] == "prod"
    assert list(deployer["inline"]) == ["deployment"] and not deployer["attached"]
    assert a["Data"]["DeploymentRoleArn"] == deployer["arn"]
    assert sorted(snap["groups"]["orders-prod-us-east-1-admin"]["inline"]) == ["admin", "operate"]
    assert snap["groups"]["orders-prod-us-east-1-ci"]["inline"] == {}
    for g in snap["groups"].values():
        assert g["attached"] == sorted(p["arn"] for p in snap["policies"].values())
    api = snap["roles"]["orders-prod-us-east-1-api"]
    assert api["trust"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert api["tags"]["team"] == "payments" and api["tags"]["serverless-access:stack-id"] == STACK_ID
    text = json.dumps(api["inline"])
    assert "log-group:/aws/lambda/orders-prod-api" in text and "ec2:CreateNetworkInterface" in text and "dynamodb:GetItem" in text
    grants = our_grants(kms, key_arn)
    assert len(grants) == 2
    by_grantee = {g["GranteePrincipal"]: g for g in grants}
    api_grant = by_grantee[api["arn"]]
    assert sorted(api_grant["Operations"]) == ["Decrypt", "GenerateDataKey"]
    assert api_grant["Constraints"]["EncryptionContextSubset"] == {"LambdaFunctionName": "orders-prod-api"}
    assert a["Data"]["AdminGroupName"] == "orders-prod-us-east-1-admin"
    assert a["Data"]["Roles.api.Arn"] == api["arn"]
    assert a["Data"]["RoleArnPrefix"] + "orders-prod-us-east-1-worker" == snap["roles"]["orders-prod-us-east-1-worker"]["arn"]


def test_an_update_that_matches_makes_no_writes(cfn, iam, kms, key_arn, log_dir):
    props = full(key_arn)
    a = cfn.create(props)
    before = iam_snapshot(iam)
    ev = cfn.event("Update", props, physical_id=a["PhysicalResourceId"], old_props=props)
    b = cfn.send(ev)
    assert b["Status"] == "SUCCESS"
    assert writes_of_last_request(log_dir, ev["RequestId"]) == 0
    assert iam_snapshot(iam) == before
    assert len(our_grants(kms, key_arn)) == 2


def test_update_in_place_adds_changes_and_removes(cfn, iam, kms, key_arn):
    props = full(key_arn)
    a = cfn.create(props)
    new = full(key_arn, Groups=["admin", "ci"], Functions=[{"Name": "api", "Kms": ["Encrypt"]}, {"Name": "reports"}])
    b = cfn.update(a["PhysicalResourceId"], new, props)
    assert b["Status"] == "SUCCESS" and b["PhysicalResourceId"] == a["PhysicalResourceId"]
    snap = iam_snapshot(iam)
    assert sorted(snap["groups"]) == ["orders-prod-us-east-1-admin", "orders-prod-us-east-1-ci"]
    assert sorted(snap["roles"]) == ["orders-prod-us-east-1-api", "orders-prod-us-east-1-reports"]
    assert "ec2:CreateNetworkInterface" not in json.dumps(snap["roles"]["orders-prod-us-east-1-api"]["inline"])
    grants = our_grants(kms, key_arn)
    assert [g["Operations"] for g in grants] == [["Encrypt"]]
    assert "DeveloperGroupName" not in b["Data"] and "Roles.reports.Arn" in b["Data"]
    # CloudFormation's reverse Update after a later failure returns to the old state.
    c = cfn.update(a["PhysicalResourceId"], props, new)
    assert c["Status"] == "SUCCESS"
    assert sorted(iam_snapshot(iam)["roles"]) == ["orders-prod-us-east-1-api", "orders-prod-us-east-1-worker"]
    assert len(our_grants(kms, key_arn)) == 2


def test_update_repairs_drift_on_owned_entities(cfn, iam, key_arn):
    props = full(key_arn)
    a = cfn.create(props)
    admin = iam.create_policy(PolicyName="everything", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="orders-prod-us-east-1-api", PolicyArn=admin)
    iam.put_role_policy(RoleName="orders-prod-us-east-1-api", PolicyName="backdoor", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    iam.delete_group_policy(GroupName="orders-prod-us-east-1-admin", PolicyName="admin")
    assert cfn.update(a["PhysicalResourceId"], props, props)["Status"] == "SUCCESS"
    snap = iam_snapshot(iam)
    assert snap["roles"]["orders-prod-us-east-1-api"]["attached"] == []
    assert list(snap["roles"]["orders-prod-us-east-1-api"]["inline"]) == ["execution"]
    assert "admin" in snap["groups"]["orders-prod-us-east-1-admin"]["inline"]


def test_replacement_creates_a_new_set_and_the_old_one_stays_until_its_delete(cfn, iam, kms, key_arn):
    props = full(key_arn)
    a = cfn.create(props)
    new = full(key_arn, Stage="staging")
    b = cfn.update(a["PhysicalResourceId"], new, props)
    assert b["PhysicalResourceId"] != a["PhysicalResourceId"]
    roles = iam_snapshot(iam)["roles"]
    assert "orders-prod-us-east-1-api" in roles and "orders-staging-us-east-1-api" in roles
    assert cfn.delete(a["PhysicalResourceId"], props)["Status"] == "SUCCESS"
    snap = iam_snapshot(iam)
    assert sorted(snap["roles"]) == ["orders-staging-us-east-1-api", "orders-staging-us-east-1-worker"]
    assert len(our_grants(kms, key_arn)) == 2


def test_delete_removes_everything_and_members_but_not_the_users(cfn, iam, kms, key_arn):
    props = full(key_arn)
    a = cfn.create(props)
    iam.create_user(UserName="alice")
    iam.add_user_to_group(GroupName="orders-prod-us-east-1-developer", UserName="alice")
    assert cfn.delete(a["PhysicalResourceId"], props)["Status"] == "SUCCESS"
    assert iam_snapshot(iam) == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}
    assert our_grants(kms, key_arn) == []
    assert iam.get_user(UserName="alice")["User"]["UserName"] == "alice"


def test_a_name_taken_by_something_else_fails_create_and_survives_the_rollback(cfn, iam, key_arn):
    iam.create_role(RoleName="orders-prod-us-east-1-worker", Path="/teams/", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="orders-prod-us-east-1-worker", PolicyName="theirs", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::theirs/*"}]}))
    props = full(key_arn)
    a = cfn.create(props)
    assert a["Status"] == "FAILED"
    assert "IAM role orders-prod-us-east-1-worker already exists and is not owned by this resource" in a["Reason"]
    assert cfn.delete(a["PhysicalResourceId"], props)["Status"] == "SUCCESS"
    theirs = iam.get_role(RoleName="orders-prod-us-east-1-worker")["Role"]
    assert theirs["Path"] == "/teams/"
    assert iam.list_role_policies(RoleName="orders-prod-us-east-1-worker")["PolicyNames"] == ["theirs"]
    assert iam_snapshot(iam) == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}


def test_the_enforced_boundary_is_set_on_every_role(cfn, iam, key_arn):
    a = cfn.create(full(key_arn))
    assert a["Status"] == "SUCCESS"
    assert {r["boundary"] for r in iam_snapshot(iam)["roles"].values()} == {cfn.provider_env["SERVERLESS_ACCESS_PERMISSIONS_BOUNDARY_ARN"]}


def test_a_changed_key_retires_the_old_grants(cfn, kms, key_arn):
    props = full(key_arn)
    a = cfn.create(props)
    other = kms.create_key(Description="other", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    new = full(other)
    assert cfn.update(a["PhysicalResourceId"], new, props)["Status"] == "SUCCESS"
    assert our_grants(kms, key_arn) == []
    assert len(our_grants(kms, other)) == 2


@pytest.mark.no_aws_calls  # refused before any AWS call: the proxy must see none
def test_requests_from_another_account_or_of_another_type_change_nothing(cfn, iam, key_arn):
    foreign = STACK_ID.replace(ACCOUNT, "210987654321")
    a = cfn.send(cfn.event("Create", full(key_arn), stack_id=foreign))
    assert a["Status"] == "FAILED" and "not this provider's account" in a["Reason"]
    b = cfn.send(cfn.event("Create", full(key_arn), resource_type="Custom::Other"))
    assert b["Status"] == "FAILED" and "ResourceType" in b["Reason"]
    assert iam_snapshot(iam) == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}


def test_an_enforced_boundary_refuses_others_and_keys_outside_the_allowance(cfn_factory, iam, key_arn):
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/serverless-access-system/boundary"
    cfn = cfn_factory({"PermissionsBoundaryArn": boundary, "AllowedKmsKeyArns": ""})
    a = cfn.create(full(key_arn, PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/other"))
    assert a["Status"] == "FAILED"
    assert "PermissionsBoundary" in a["Reason"] and "KmsKeyArn" in a["Reason"]
    assert iam_snapshot(iam) == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}
    props = {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api"}]}
    assert cfn.create(props)["Status"] == "SUCCESS"
    assert {r["boundary"] for r in iam_snapshot(iam)["roles"].values()} == {boundary}


def test_an_entity_deleted_between_the_listing_and_its_details_is_absent_not_an_error(faulty, iam):
    cfn, proxy = faulty
    props = {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api"}, {"Name": "worker"}]}
    a = cfn.create(props)
    # The next observation lists the worker role, then IAM answers NoSuchEntity for its details once.
    rule = Rule(lambda s, act: act == "ListAttachedRolePolicies", "gone", times=1,
                where={"RoleName": "orders-prod-us-east-1-worker"})
    proxy.rules.append(rule)
    assert cfn.update(a["PhysicalResourceId"], props, props)["Status"] == "SUCCESS"
    assert rule.fired == 1
    assert len(iam_snapshot(iam)["roles"]) == 2


def foreign_policy(iam):
    """A customer managed policy outside the provider's path (moto loads no AWS managed ones)."""
    return iam.create_policy(PolicyName="ReadOnlyExtra", Path="/teams/", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}]}))["Policy"]["Arn"]


def test_delete_copes_with_changes_made_after_it_looked(cfn, iam, key_arn):
    props = full(key_arn)
    a = cfn.create(props)
    iam.put_group_policy(GroupName="orders-prod-us-east-1-ci", PolicyName="extra", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}]}))
    iam.attach_group_policy(GroupName="orders-prod-us-east-1-ci", PolicyArn=foreign_policy(iam))
    assert cfn.delete(a["PhysicalResourceId"], props)["Status"] == "SUCCESS"
    assert iam_snapshot(iam) == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}


def test_delete_names_an_instance_profile_someone_added_and_does_not_touch_it(cfn, iam, key_arn):
    props = full(key_arn)
    a = cfn.create(props)
    iam.create_instance_profile(InstanceProfileName="sneaky")
    iam.add_role_to_instance_profile(InstanceProfileName="sneaky", RoleName="orders-prod-us-east-1-worker")
    failed = cfn.delete(a["PhysicalResourceId"], props)
    assert failed["Status"] == "FAILED" and "instance profile sneaky" in failed["Reason"], failed
    assert [r["RoleName"] for r in iam.get_instance_profile(InstanceProfileName="sneaky")["InstanceProfile"]["Roles"]] == ["orders-prod-us-east-1-worker"]
    iam.remove_role_from_instance_profile(InstanceProfileName="sneaky", RoleName="orders-prod-us-east-1-worker")
    assert cfn.delete(a["PhysicalResourceId"], props)["Status"] == "SUCCESS"
    assert iam_snapshot(iam) == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}


def test_update_repairs_a_managed_policy_someone_attached_to_a_group(cfn, iam, key_arn):
    props = full(key_arn)
    a = cfn.create(props)
    iam.attach_group_policy(GroupName="orders-prod-us-east-1-developer", PolicyArn=foreign_policy(iam))
    assert cfn.update(a["PhysicalResourceId"], props, props)["Status"] == "SUCCESS"
    attached = iam.list_attached_group_policies(GroupName="orders-prod-us-east-1-developer")["AttachedPolicies"]
    assert sorted(p["PolicyName"] for p in attached) == ["orders-prod-us-east-1-deploy", "orders-prod-us-east-1-deploy-functions"]


def test_attack_2_a_claim_nesting_with_a_live_one_is_refused_in_either_order(cfn, iam):
    victim = {"ServiceName": "orders-api", "Stage": "prod", "Functions": [{"Name": "api"}]}
    attacker = {"ServiceName": "orders", "Stage": "api", "Functions": [{"Name": "x"}]}
    v = cfn.create(victim)
    assert v["Status"] == "SUCCESS", v
    before = iam_snapshot(iam)
    refused = cfn.create(attacker, logical_id="Attacker")
    assert refused["Status"] == "FAILED" and "orders-api" in refused["Reason"] and "nest" in refused["Reason"], refused
    assert iam_snapshot(iam) == before
    assert cfn.delete(v["PhysicalResourceId"], victim)["Status"] == "SUCCESS"
    first = cfn.create(attacker, logical_id="Attacker")
    assert first["Status"] == "SUCCESS", first
    second = cfn.create(victim)
    assert second["Status"] == "FAILED" and "nest" in second["Reason"], second
    # Names compare ignoring case, as S3 bucket and IAM names do.
    third = cfn.create({"ServiceName": "Orders", "Stage": "API"}, logical_id="Shouting")
    assert third["Status"] == "FAILED" and "nest" in third["Reason"], third


def test_delete_refuses_to_detach_its_policy_from_entities_it_does_not_own(cfn, iam, key_arn):
    props = full(key_arn)
    a = cfn.create(props)
    deploy = iam_snapshot(iam)["policies"]["orders-prod-us-east-1-deploy"]["arn"]
    iam.create_user(UserName="bob")
    iam.attach_user_policy(UserName="bob", PolicyArn=deploy)
    failed = cfn.delete(a["PhysicalResourceId"], props)
    assert failed["Status"] == "FAILED"
    assert "attached to user bob, which this resource does not own" in failed["Reason"]
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="bob")["AttachedPolicies"]] == [deploy]
    iam.detach_user_policy(UserName="bob", PolicyArn=deploy)
    assert cfn.delete(a["PhysicalResourceId"], props)["Status"] == "SUCCESS"
    assert iam_snapshot(iam) == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}


def test_keys_that_refuse_grants_are_refused_before_any_write(cfn, iam, kms):
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    meta = kms.create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    kms.disable_key(KeyId=meta["KeyId"])
    for key in (rsa, meta["Arn"]):
        a = cfn.create(full(key))
        assert a["Status"] == "FAILED" and "SYMMETRIC_DEFAULT" in a["Reason"], a
        assert iam_snapshot(iam) == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}


def ours(snap):
    """The snapshot's entities on the provider's path (moto's ListGroups ignores PathPrefix)."""
    return {kind: {n: e for n, e in entities.items() if e["path"].startswith("/serverless-access/")} for kind, entities in snap.items()}


THEIRS = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::theirs/*"}]})


@pytest.mark.parametrize("theirs", ["orders-prod-us-east-1-deploy", "Orders-Prod-US-East-1-Deploy"], ids=["same name", "other case"])
def test_a_managed_policy_name_someone_else_owns_fails_create_and_theirs_is_untouched(cfn, iam, key_arn, theirs):
    # IAM policy names are unique per account whatever the path, and not distinguished by case
    # (IAM API Reference, CreatePolicy PolicyName); the proxy answers as IAM does where moto does not.
    arn = iam.create_policy(PolicyName=theirs, Path="/teams/", PolicyDocument=THEIRS)["Policy"]["Arn"]
    iam.create_group(GroupName="platform", Path="/teams/")
    iam.attach_group_policy(GroupName="platform", PolicyArn=arn)
    props = full(key_arn)
    a = cfn.create(props)
    assert a["Status"] == "FAILED"
    assert "IAM policy orders-prod-us-east-1-deploy already exists and is not owned by this resource" in a["Reason"], a["Reason"]
    assert cfn.delete(a["PhysicalResourceId"], props)["Status"] == "SUCCESS"
    assert ours(iam_snapshot(iam)) == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert len(versions) == 1 and iam.get_policy(PolicyArn=arn)["Policy"]["Path"] == "/teams/"
    assert iam.get_policy_version(PolicyArn=arn, VersionId=versions[0]["VersionId"])["PolicyVersion"]["Document"] == json.loads(THEIRS)
    assert [p["PolicyArn"] for p in iam.list_attached_group_policies(GroupName="platform")["AttachedPolicies"]] == [arn]


@pytest.mark.parametrize("theirs", ["orders-prod-us-east-1-developer", "ORDERS-PROD-US-EAST-1-DEVELOPER"], ids=["same name", "other case"])
def test_a_group_name_someone_else_owns_fails_create_and_theirs_is_untouched(cfn, iam, key_arn, theirs):
    # IAM group names are unique per account whatever the path, and not distinguished by case
    # (IAM API Reference, CreateGroup GroupName).
    iam.create_group(GroupName=theirs, Path="/teams/")
    iam.put_group_policy(GroupName=theirs, PolicyName="theirs", PolicyDocument=THEIRS)
    iam.create_user(UserName="alice")
    iam.add_user_to_group(GroupName=theirs, UserName="alice")
    props = full(key_arn)
    a = cfn.create(props)
    assert a["Status"] == "FAILED"
    assert "IAM group orders-prod-us-east-1-developer already exists and is not owned by this resource" in a["Reason"], a["Reason"]
    assert cfn.delete(a["PhysicalResourceId"], props)["Status"] == "SUCCESS"
    assert ours(iam_snapshot(iam)) == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}
    group = iam.get_group(GroupName=theirs)
    assert group["Group"]["Path"] == "/teams/" and [u["UserName"] for u in group["Users"]] == ["alice"]
    assert iam.list_group_policies(GroupName=theirs)["PolicyNames"] == ["theirs"]
    assert iam.list_attached_group_policies(GroupName=theirs)["AttachedPolicies"] == []
