"""Self-tests of the IAM evaluator (iam_eval.py) for every rule the generated documents and the
template rely on, each with the result AWS documents. Sources (IAM User Guide pages, under
https://docs.aws.amazon.com/IAM/latest/UserGuide/):
- OPS: reference_policies_elements_condition_operators.html
- MULTI: reference_policies_multi-value-conditions.html
- COND: reference_policies_elements_condition.html
- VARS: reference_policies_variables.html; VERSION: reference_policies_elements_version.html
- LOGIC: reference_policies_evaluation-logic.html; BOUNDARY: access_policies_boundaries.html
- NOTACTION / NOTRESOURCE / ACTION / RESOURCE: reference_policies_elements_{notaction,notresource,action,resource}.html
- PRINCIPAL: reference_policies_elements_principal.html; OIDC: id_roles_providers_oidc.html and
  id_roles_create_for-idp_oidc.html (GitHub's condition keys `token.actions.githubusercontent.com:sub|aud`);
  CROSS: reference_policies_evaluation-logic-cross-account.html (a role trust policy must allow its principals)
Every decision made here is also checked against an independent engine at the end of the session
(test_engines_agree.py)."""
import pytest

from iam_eval import ALLOW, DENY, IMPLICIT, Caller, Request, allowed, evaluate, evaluate_trust

V = "2012-10-17"
FN = "arn:aws:lambda:us-east-1:123456789012:function:orders-dev-api"
ROLE = "arn:aws:iam::123456789012:role/serverless-access/orders/dev/orders-dev-api"


def doc(*statements, version=V):
    d = {"Statement": list(statements)}
    if version:
        d["Version"] = version
    return d


def allow(action, resource="*", condition=None, **extra):
    st = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    if condition:
        st["Condition"] = condition
    return st


def deny(action, resource="*", condition=None):
    st = {"Effect": "Deny", "Action": action, "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


def test_if_exists_operators_hold_when_the_key_is_absent_and_compare_it_when_present():
    # OPS, "...IfExists condition operators": "If the key is not present, evaluate the condition
    # element as true."
    d = doc(allow("iam:PassRole", ROLE, {"StringEqualsIfExists": {"iam:PassedToService": "lambda.amazonaws.com"}}))
    assert allowed([d], "iam:PassRole", ROLE)
    assert allowed([d], "iam:PassRole", ROLE, {"iam:PassedToService": "lambda.amazonaws.com"})
    assert not allowed([d], "iam:PassRole", ROLE, {"iam:PassedToService": "ec2.amazonaws.com"})
    arn = doc(allow("lambda:CreateEventSourceMapping", "*", {"ArnLikeIfExists": {"lambda:FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders-dev-*"}}))
    assert allowed([arn], "lambda:CreateEventSourceMapping")
    assert allowed([arn], "lambda:CreateEventSourceMapping", context={"lambda:FunctionArn": FN})
    assert not allowed([arn], "lambda:CreateEventSourceMapping", context={"lambda:FunctionArn": FN.replace("orders-dev", "orders-prod")})


def test_bool_if_exists_holds_on_a_missing_key_and_bool_does_not():
    # OPS, "Boolean condition operators" and "...IfExists": a Deny on BoolIfExists false also
    # catches requests that lack the key; a plain Bool only requests that carry it.
    s3 = "arn:aws:s3:::orders-dev-bucket/k"
    if_exists = doc(allow("s3:GetObject", s3), deny("s3:GetObject", s3, {"BoolIfExists": {"aws:SecureTransport": "false"}}))
    plain = doc(allow("s3:GetObject", s3), deny("s3:GetObject", s3, {"Bool": {"aws:SecureTransport": "false"}}))
    assert not allowed([if_exists], "s3:GetObject", s3)
    assert allowed([plain], "s3:GetObject", s3)
    assert allowed([if_exists], "s3:GetObject", s3, {"aws:SecureTransport": "true"})
    assert not allowed([plain], "s3:GetObject", s3, {"aws:SecureTransport": "false"})
    assert not allowed([doc(allow("s3:GetObject", s3, {"Bool": {"aws:SecureTransport": "true"}}))], "s3:GetObject", s3)


def test_null_tests_only_whether_the_key_is_present():
    # OPS, "Condition operator to check existence of condition keys": true = the key is absent,
    # false = the key is present and its value not null; the value itself is not compared.
    absent = doc(allow("lambda:CreateFunction", FN, {"Null": {"lambda:SubnetIds": "true"}}))
    present = doc(allow("lambda:CreateFunction", FN, {"Null": {"lambda:SubnetIds": "false"}}))
    subnets = {"lambda:SubnetIds": ["subnet-0a1b2c3d4e5f60718"]}
    assert allowed([absent], "lambda:CreateFunction", FN) and not allowed([absent], "lambda:CreateFunction", FN, subnets)
    assert allowed([present], "lambda:CreateFunction", FN, subnets) and not allowed([present], "lambda:CreateFunction", FN)


def test_arn_like_matches_the_six_parts_separately_and_arn_not_like_is_true_without_the_key():
    # OPS, "Amazon Resource Name (ARN) condition operators": each of the six colon-delimited
    # components is checked separately, case-sensitively, with `*` and `?`. The Important box: a
    # negated operator is true when the key is absent.
    like = doc(allow("events:PutTargets", "*", {"ForAllValues:ArnLike": {"events:TargetArn": ["arn:aws:lambda:*:123456789012:function:orders-dev-*"]}}))
    assert allowed([like], "events:PutTargets", context={"events:TargetArn": [FN]})
    assert not allowed([like], "events:PutTargets", context={"events:TargetArn": [FN.replace("123456789012", "210987654321")]})
    assert not allowed([like], "events:PutTargets", context={"events:TargetArn": [FN.replace("orders-dev", "Orders-dev")]})
    five_parts = doc(allow("lambda:CreateEventSourceMapping", "*", {"ArnLike": {"lambda:FunctionArn": "arn:aws:lambda:*:function:orders-dev-api"}}))
    assert not allowed([five_parts], "lambda:CreateEventSourceMapping", context={"lambda:FunctionArn": FN})
    not_like = doc(allow("iam:AttachRolePolicy", ROLE, {"ArnNotLike": {"iam:PolicyARN": "arn:aws:iam::aws:policy/*"}}))
    assert allowed([not_like], "iam:AttachRolePolicy", ROLE)
    assert allowed([not_like], "iam:AttachRolePolicy", ROLE, {"iam:PolicyARN": "arn:aws:iam::123456789012:policy/mine"})
    assert not allowed([not_like], "iam:AttachRolePolicy", ROLE, {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"})


def test_for_any_value_with_a_negated_operator_is_false_over_an_absent_key():
    # MULTI: ForAnyValue returns false when the key is absent or its set empty, even with a
    # negated operator; true when one request value matches none of the policy's values.
    d = doc(allow("lambda:CreateFunction", FN), deny("lambda:CreateFunction", FN, {"ForAnyValue:StringNotEquals": {"lambda:SubnetIds": ["subnet-1", "subnet-2"]}}))
    assert allowed([d], "lambda:CreateFunction", FN)
    assert allowed([d], "lambda:CreateFunction", FN, {"lambda:SubnetIds": []})
    assert allowed([d], "lambda:CreateFunction", FN, {"lambda:SubnetIds": ["subnet-1", "subnet-2"]})
    assert not allowed([d], "lambda:CreateFunction", FN, {"lambda:SubnetIds": ["subnet-1", "subnet-9"]})


def test_for_all_values_over_an_absent_key_is_true():
    # MULTI: ForAllValues returns true when the key is absent or its set empty (hence the advice
    # to pair it with Null in an Allow).
    d = doc(allow("kms:CreateGrant", "*", {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt", "Encrypt"]}}))
    assert allowed([d], "kms:CreateGrant")
    assert allowed([d], "kms:CreateGrant", context={"kms:GrantOperations": []})
    assert allowed([d], "kms:CreateGrant", context={"kms:GrantOperations": ["Decrypt"]})
    assert not allowed([d], "kms:CreateGrant", context={"kms:GrantOperations": ["Decrypt", "CreateGrant"]})


def test_for_any_value_if_exists_over_an_absent_key_is_still_false():
    # Observed in AWS (repost.aws, "ForAnyValue:StringEqualsIfExists behaving unexpectedly",
    # accepted answer): with a set qualifier the qualifier decides an absent key.
    d = doc(allow("sqs:ListQueues", "*", {"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": ["team"]}}))
    assert not allowed([d], "sqs:ListQueues")
    assert allowed([d], "sqs:ListQueues", context={"aws:TagKeys": ["team", "x"]})


def test_not_resource_with_a_policy_variable_excludes_only_the_resolved_resource():
    # NOTRESOURCE: the statement applies to every resource but those listed; VARS: variables are
    # resolved in Resource and NotResource elements.
    bucket = "arn:aws:s3:::orders-home"
    d = doc(allow("s3:GetObject", f"{bucket}/*"),
            {"Effect": "Deny", "Action": "s3:GetObject", "NotResource": f"{bucket}/${{aws:username}}/*"})
    me = {"aws:username": "alice"}
    assert allowed([d], "s3:GetObject", f"{bucket}/alice/notes.txt", me)
    assert not allowed([d], "s3:GetObject", f"{bucket}/bob/notes.txt", me)
    assert not allowed([d], "s3:GetObject", f"{bucket}/Alice/notes.txt", me)


def test_not_action_applies_to_every_action_it_does_not_list():
    # NOTACTION: an Allow with NotAction allows everything not listed; a Deny with NotAction
    # denies everything not listed.
    d = doc({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"})
    assert allowed([d], "s3:GetObject", "arn:aws:s3:::b/k")
    assert not allowed([d], "iam:PassRole", ROLE) and not allowed([d], "IAM:passrole", ROLE)
    only_reads = doc(allow("lambda:*", "*"), {"Effect": "Deny", "NotAction": ["lambda:Get*", "lambda:List*"], "Resource": "*"})
    assert allowed([only_reads], "lambda:GetFunction", FN)
    assert not allowed([only_reads], "lambda:UpdateFunctionCode", FN)


def test_condition_key_names_are_case_insensitive():
    # COND: "Context key names are not case-sensitive. For example, including the aws:SourceIP
    # context key is equivalent to testing for AWS:SourceIp."
    d = doc(allow("iam:PassRole", ROLE, {"StringEquals": {"IAM:passedToService": "lambda.amazonaws.com"}}))
    assert allowed([d], "iam:PassRole", ROLE, {"iam:PassedToService": "lambda.amazonaws.com"})
    assert not allowed([d], "iam:PassRole", ROLE, {"iam:PassedToService": "ec2.amazonaws.com"})
    var = doc(allow("s3:GetObject", "arn:aws:s3:::orders-home/${AWS:UserName}/*"))
    assert allowed([var], "s3:GetObject", "arn:aws:s3:::orders-home/alice/x", {"aws:username": "alice"})


def test_condition_values_are_case_sensitive_unless_the_operator_ignores_case():
    # OPS, "String condition operators": StringEquals and StringLike are case-sensitive,
    # StringEqualsIgnoreCase is not.
    tag = {"aws:PrincipalTag/team": "Payments"}
    exact = doc(allow("lambda:GetFunction", FN, {"StringEquals": {"aws:PrincipalTag/team": "payments"}}))
    like = doc(allow("lambda:GetFunction", FN, {"StringLike": {"aws:PrincipalTag/team": "pay*"}}))
    ignore = doc(allow("lambda:GetFunction", FN, {"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "payments"}}))
    assert not allowed([exact], "lambda:GetFunction", FN, tag)
    assert not allowed([like], "lambda:GetFunction", FN, tag)
    assert allowed([ignore], "lambda:GetFunction", FN, tag)
    assert allowed([exact], "lambda:GetFunction", FN, {"aws:PrincipalTag/team": "payments"})


def test_special_variables_stand_for_a_literal_star_question_mark_and_dollar():
    # VARS, "Special characters": ${*}, ${?} and ${$} represent *, ? and $ where those would
    # otherwise be read as wildcards or a variable.
    star = doc(allow("s3:GetObject", "arn:aws:s3:::orders-dev-bucket/${*}"))
    assert allowed([star], "s3:GetObject", "arn:aws:s3:::orders-dev-bucket/*")
    assert not allowed([star], "s3:GetObject", "arn:aws:s3:::orders-dev-bucket/key")
    question = doc(allow("s3:GetObject", "arn:aws:s3:::orders-dev-bucket/why${?}"))
    assert allowed([question], "s3:GetObject", "arn:aws:s3:::orders-dev-bucket/why?")
    assert not allowed([question], "s3:GetObject", "arn:aws:s3:::orders-dev-bucket/whyX")
    dollar = doc(allow("s3:GetObject", "arn:aws:s3:::orders-dev-bucket/${$}{aws:username}"))
    assert allowed([dollar], "s3:GetObject", "arn:aws:s3:::orders-dev-bucket/${aws:username}", {"aws:username": "alice"})
    assert not allowed([dollar], "s3:GetObject", "arn:aws:s3:::orders-dev-bucket/alice", {"aws:username": "alice"})
    cond = doc(allow("s3:ListBucket", "arn:aws:s3:::orders-dev-bucket", {"StringLike": {"s3:prefix": "a${*}*"}}))
    assert allowed([cond], "s3:ListBucket", "arn:aws:s3:::orders-dev-bucket", {"s3:prefix": "a*b"})
    assert not allowed([cond], "s3:ListBucket", "arn:aws:s3:::orders-dev-bucket", {"s3:prefix": "ab"})


def test_policy_variables_are_text_outside_version_2012_10_17_and_missing_ones_match_nothing():
    # VERSION: without Version 2012-10-17 "variables such as ${aws:username} aren't recognized as
    # variables and are instead treated as literal strings". VARS, "Policy variables with no
    # value": an absent key leaves nothing to match; "Specifying default values".
    home = "arn:aws:s3:::orders-home/${aws:username}/*"
    alice = {"aws:username": "alice"}
    assert allowed([doc(allow("s3:GetObject", home))], "s3:GetObject", "arn:aws:s3:::orders-home/alice/x", alice)
    assert not allowed([doc(allow("s3:GetObject", home), version="2008-10-17")], "s3:GetObject", "arn:aws:s3:::orders-home/alice/x", alice)
    assert not allowed([doc(allow("s3:GetObject", home))], "s3:GetObject", "arn:aws:s3:::orders-home/alice/x")
    fallback = doc(allow("s3:GetObject", "arn:aws:s3:::orders-home/${aws:PrincipalTag/team, 'shared'}/*"))
    assert allowed([fallback], "s3:GetObject", "arn:aws:s3:::orders-home/shared/x")
    assert allowed([fallback], "s3:GetObject", "arn:aws:s3:::orders-home/payments/x", {"aws:PrincipalTag/team": "payments"})
    assert not allowed([fallback], "s3:GetObject", "arn:aws:s3:::orders-home/shared/x", {"aws:PrincipalTag/team": "payments"})


def test_a_boundary_without_an_allow_denies_implicitly_and_a_deny_in_it_denies_explicitly():
    # BOUNDARY: the effective permissions are the intersection of the identity policies and the
    # boundary; LOGIC: an explicit Deny in any policy overrides every Allow.
    identity = [doc(allow("lambda:*", "*"))]
    boundary = [doc(allow("lambda:GetFunction", "*"), deny("lambda:DeleteFunction", "*"))]
    assert evaluate(identity, Request("lambda:GetFunction", FN), boundary) == ALLOW
    assert evaluate(identity, Request("lambda:UpdateFunctionCode", FN), boundary) == IMPLICIT
    assert evaluate(identity, Request("lambda:DeleteFunction", FN), boundary) == DENY
    # The boundary grants nothing by itself, and an identity Deny wins over the boundary's Allow.
    assert evaluate([doc(allow("s3:GetObject", "*"))], Request("lambda:GetFunction", FN), boundary) == IMPLICIT
    assert evaluate([doc(allow("lambda:*", "*"), deny("lambda:GetFunction", FN))], Request("lambda:GetFunction", FN), boundary) == DENY


def test_several_values_for_one_key_are_ored_and_nored_when_negated():
    # MULTI: values of one key under one operator are ORed; under a negated operator NORed.
    ored = doc(allow("iam:PassRole", ROLE, {"StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com", "cloudformation.amazonaws.com"]}}))
    nored = doc(allow("iam:PassRole", ROLE, {"StringNotEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]}}))
    for service, expected in (("lambda.amazonaws.com", True), ("cloudformation.amazonaws.com", True), ("ec2.amazonaws.com", False)):
        assert allowed([ored], "iam:PassRole", ROLE, {"iam:PassedToService": service}) is expected
        assert allowed([nored], "iam:PassRole", ROLE, {"iam:PassedToService": service}) is expected
    assert not allowed([nored], "iam:PassRole", ROLE, {"iam:PassedToService": "ecs-tasks.amazonaws.com"})


def test_several_keys_and_several_operators_are_anded():
    # MULTI: keys under one operator, and operators in one Condition, are ANDed.
    d = doc(allow("lambda:AddPermission", FN, {
        "StringEquals": {"lambda:Principal": "*", "lambda:FunctionUrlAuthType": "AWS_IAM"},
        "StringLike": {"aws:RequestedRegion": "us-*"}}))
    both = {"lambda:Principal": "*", "lambda:FunctionUrlAuthType": "AWS_IAM", "aws:RequestedRegion": "us-east-1"}
    assert allowed([d], "lambda:AddPermission", FN, both)
    assert not allowed([d], "lambda:AddPermission", FN, dict(both, **{"lambda:FunctionUrlAuthType": "NONE"}))
    assert not allowed([d], "lambda:AddPermission", FN, dict(both, **{"aws:RequestedRegion": "eu-west-1"}))
    assert not allowed([d], "lambda:AddPermission", FN, {"lambda:Principal": "*", "aws:RequestedRegion": "us-east-1"})


def test_star_and_question_mark_are_wildcards_in_actions_and_resources():
    # ACTION: wildcards in actions, matched case-insensitively; RESOURCE: `*` and `?` in the
    # resource, matched case-sensitively, `*` also across `/` and `:`.
    d = doc(allow(["s3:Get*Acl", "lambda:?etFunction"], ["arn:aws:s3:::orders-dev-??/*", "arn:aws:lambda:us-east-1:123456789012:function:orders-*"]))
    assert allowed([d], "s3:GetObjectAcl", "arn:aws:s3:::orders-dev-01/a/b")
    assert allowed([d], "S3:getbucketacl", "arn:aws:s3:::orders-dev-01/x")
    assert not allowed([d], "s3:GetObject", "arn:aws:s3:::orders-dev-01/a")
    assert not allowed([d], "s3:GetObjectAcl", "arn:aws:s3:::orders-dev-001/a")
    assert not allowed([d], "s3:GetObjectAcl", "arn:aws:s3:::Orders-dev-01/a")
    assert allowed([d], "lambda:GetFunction", FN) and allowed([d], "lambda:SetFunction", FN)
    assert allowed([d], "lambda:GetFunction", FN + ":live")
    assert not allowed([d], "lambda:GetFunctions", FN)


def test_a_multi_valued_key_under_a_single_valued_operator_is_refused_as_a_test_error():
    # MULTI: multivalued keys need a set operator; the evaluator refuses rather than guess.
    d = doc(allow("lambda:CreateFunction", FN, {"StringEquals": {"lambda:SubnetIds": "subnet-1"}}))
    with pytest.raises(ValueError):
        allowed([d], "lambda:CreateFunction", FN, {"lambda:SubnetIds": ["subnet-1"]})


def test_a_wildcard_never_stands_for_the_resource_type():
    # RESOURCE, "Incorrect wildcard usage" (reference-arns.html): the resource type is literal, so a
    # pattern with a wildcard there names nothing, and as a NotResource fences nothing.
    typed = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "arn:aws:lambda:*:*:*:orders-*"}]}
    assert not allowed([typed], "lambda:GetFunction", FN)
    fence = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "lambda:*", "NotResource": "arn:aws:lambda:*:*:*:orders-*"}]}
    assert allowed([fence], "lambda:GetFunction", FN)
    spelled = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "arn:aws:lambda:*:*:function:orders-*"}]}
    assert allowed([spelled], "lambda:GetFunction", FN)
    # A wildcard after the type still runs across `:` and `/` (RESOURCE: "can expand to match beyond
    # the colon boundaries").
    assert allowed([spelled], "lambda:GetFunction", FN + ":live")


def test_the_segments_before_the_resource_are_matched_each_on_its_own():
    # RESOURCE: wildcards work within the individual segments; a `*` in the region does not reach
    # into the account, and a short ARN is padded with `*` segments.
    region = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "arn:aws:lambda:us-*:123456789012:function:*"}]}
    assert allowed([region], "lambda:GetFunction", FN)
    assert not allowed([region], "lambda:GetFunction", FN.replace("us-east-1", "eu-west-1"))
    short = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "arn:aws:lambda:us-east-1"}]}
    assert allowed([short], "lambda:GetFunction", FN)
    other = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "arn:aws:lambda:us-east-1:1*2:function:*"}]}
    assert allowed([other], "lambda:GetFunction", FN)
    assert not allowed([other], "lambda:GetFunction", FN.replace("123456789012", "123456789013"))


def test_s3_names_have_no_resource_type_and_match_as_one_string():
    # S3 ARNs omit region and account and have no resource type (reference-arns.html, Amazon S3 row):
    # `arn:aws:s3:::orders-*` names buckets and the objects in them.
    doc = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::orders-*"}]}
    assert allowed([doc], "s3:GetObject", "arn:aws:s3:::orders-dev-bucket/key/a")
    assert not allowed([doc], "s3:GetObject", "arn:aws:s3:::payments-dev/orders-x")


def test_a_policy_variable_in_a_name_is_not_read_as_a_resource_type():
    # VARS: a variable is replaced by the request's value; the `/` and `:` of its key are not the ARN's.
    # A queue ARN has no resource type, so the whole name is the pattern.
    doc = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "sqs:*",
                                        "NotResource": "arn:*:sqs:*:*:${aws:PrincipalTag/serverless-access:service}-*"}]}
    tags = {"aws:PrincipalTag/serverless-access:service": "orders"}
    assert not allowed([doc], "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:orders-prod-q", tags)
    assert allowed([doc], "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:payments-prod-q", tags)


# --- trust policies ----------------------------------------------------------------------------
ACCT = "123456789012"
STAGE_ROLE = f"arn:aws:iam::{ACCT}:role/serverless-access/orders/prod/orders-prod-ci"
GITHUB = f"arn:aws:iam::{ACCT}:oidc-provider/token.actions.githubusercontent.com"
GITLAB = f"arn:aws:iam::{ACCT}:oidc-provider/gitlab.com"
GH = "token.actions.githubusercontent.com"


def github_trust(sub="repo:acme/orders:environment:prod"):
    # The exact form configure-aws-credentials' README documents (aud sts.amazonaws.com, exact sub).
    return doc({"Effect": "Allow", "Principal": {"Federated": GITHUB}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{GH}:aud": "sts.amazonaws.com", f"{GH}:sub": sub}}})


def web(sub, aud="sts.amazonaws.com", provider=GITHUB, **claims):
    ctx = {f"{GH}:sub": sub, f"{GH}:aud": aud, **{f"{GH}:{k}": v for k, v in claims.items()}}
    return Caller("federated", provider, ACCT), Request("sts:AssumeRoleWithWebIdentity", STAGE_ROLE, ctx)


def test_a_web_identity_is_trusted_only_with_the_provider_audience_and_subject_the_trust_policy_names():
    # OIDC: the role trusts the provider (Principal Federated) under conditions on the token's claims.
    trust = github_trust()
    caller, req = web("repo:acme/orders:environment:prod")
    assert evaluate_trust(trust, req, caller) == ALLOW
    for sub in ("repo:acme/payments:environment:prod", "repo:acme/orders:environment:staging",
                "repo:acme/orders:ref:refs/heads/main", "repo:acme/orders:pull_request",
                "repo:evil/orders:environment:prod", "repo:acme/orders:environment:prod:extra"):
        assert evaluate_trust(trust, *reversed(web(sub))) == IMPLICIT, sub
    assert evaluate_trust(trust, *reversed(web("repo:acme/orders:environment:prod", aud="https://github.com/acme"))) == IMPLICIT
    # Another provider with the same claims, and a signed principal with them, are not the Federated one.
    assert evaluate_trust(trust, *reversed(web("repo:acme/orders:environment:prod", provider=GITLAB))) == IMPLICIT
    user = Caller("user", f"arn:aws:iam::{ACCT}:user/mallory", ACCT)
    assert evaluate_trust(trust, Request("sts:AssumeRoleWithWebIdentity", STAGE_ROLE, req.context), user,
                          [doc(allow("sts:*"))]) == IMPLICIT
    # Only the action the statement names: the provider's tokens do not open sts:AssumeRole.
    assert evaluate_trust(trust, Request("sts:AssumeRole", STAGE_ROLE, req.context), caller) == IMPLICIT


def test_a_missing_claim_fails_a_string_equals_condition_and_a_deny_statement_wins():
    # OPS "Important": a key absent from the request makes a (non-negated) condition false.
    trust = github_trust()
    caller, req = web("repo:acme/orders:environment:prod")
    del req.context[f"{GH}:aud"]
    assert evaluate_trust(trust, req, caller) == IMPLICIT
    guarded = doc(*github_trust()["Statement"], {
        "Effect": "Deny", "Principal": {"Federated": GITHUB}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringNotEquals": {f"{GH}:repository_id": "123456"}}})
    assert evaluate_trust(guarded, *reversed(web("repo:acme/orders:environment:prod", repository_id="123456"))) == ALLOW
    # The same repository name with another id (deleted and recreated by someone else) is refused.
    assert evaluate_trust(guarded, *reversed(web("repo:acme/orders:environment:prod", repository_id="999999"))) == DENY


def test_string_like_on_the_subject_opens_what_string_equals_keeps_closed():
    # The classic mistake the provider refuses: `repo:acme/orders:*` also matches pull requests.
    loose = doc({"Effect": "Allow", "Principal": {"Federated": GITHUB}, "Action": "sts:AssumeRoleWithWebIdentity",
                 "Condition": {"StringEquals": {f"{GH}:aud": "sts.amazonaws.com"}, "StringLike": {f"{GH}:sub": "repo:acme/orders:*"}}})
    assert evaluate_trust(loose, *reversed(web("repo:acme/orders:pull_request"))) == ALLOW
    assert evaluate_trust(github_trust("repo:acme/orders:*"), *reversed(web("repo:acme/orders:pull_request"))) == IMPLICIT


def test_a_trust_policy_naming_a_principal_allows_it_without_identity_policies_and_no_one_else():
    # PRINCIPAL / CROSS: a trust policy that names a user's ARN is enough in its account.
    alice = Caller("user", f"arn:aws:iam::{ACCT}:user/alice", ACCT)
    bob = Caller("user", f"arn:aws:iam::{ACCT}:user/bob", ACCT)
    trust = doc({"Effect": "Allow", "Principal": {"AWS": alice.arn}, "Action": "sts:AssumeRole"})
    req = Request("sts:AssumeRole", STAGE_ROLE, {"aws:PrincipalArn": alice.arn})
    assert evaluate_trust(trust, req, alice) == ALLOW
    assert evaluate_trust(trust, Request("sts:AssumeRole", STAGE_ROLE, {"aws:PrincipalArn": bob.arn}), bob,
                          [doc(allow("sts:AssumeRole"))]) == IMPLICIT
    # An explicit Deny in the caller's own policies still wins.
    assert evaluate_trust(trust, req, alice, [doc(deny("sts:AssumeRole"))]) == DENY


def test_no_partial_wildcard_in_a_principal():
    # PRINCIPAL: "You cannot use a wildcard to match part of a principal name or ARN."
    dev = Caller("role", f"arn:aws:iam::{ACCT}:role/dev", ACCT, f"arn:aws:sts::{ACCT}:assumed-role/dev/s")
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:role/*"}, "Action": "sts:AssumeRole"})
    assert evaluate_trust(trust, Request("sts:AssumeRole", STAGE_ROLE, {"aws:PrincipalArn": dev.arn}), dev,
                          [doc(allow("sts:AssumeRole"))]) == IMPLICIT


def test_a_trust_policy_naming_the_account_needs_the_callers_identity_policy_and_its_condition():
    # CROSS: naming the account delegates to the caller's identity policies; the Identity Center
    # form narrows it with ArnLike on aws:PrincipalArn (the role's ARN, path included).
    sso_path = f"arn:aws:iam::{ACCT}:role/aws-reserved/sso.amazonaws.com"
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "sts:AssumeRole",
                 "Condition": {"ArnLike": {"aws:PrincipalArn": [f"{sso_path}/AWSReservedSSO_Dev_????????????????",
                                                                f"{sso_path}/*/AWSReservedSSO_Dev_????????????????"]}}})

    def sso(name):
        arn = f"{sso_path}/eu-west-1/{name}"
        return (Caller("role", arn, ACCT, f"arn:aws:sts::{ACCT}:assumed-role/{name}/alice"),
                Request("sts:AssumeRole", STAGE_ROLE, {"aws:PrincipalArn": arn}))

    may_assume = [doc(allow("sts:AssumeRole", STAGE_ROLE))]
    caller, req = sso("AWSReservedSSO_Dev_0123456789abcdef")
    assert evaluate_trust(trust, req, caller, may_assume) == ALLOW
    assert evaluate_trust(trust, req, caller, []) == IMPLICIT, "the account alone is not enough"
    assert evaluate_trust(trust, req, caller, may_assume, boundary_docs=[doc(allow("s3:*"))]) == IMPLICIT
    for other in ("AWSReservedSSO_DevOps_0123456789abcdef", "AWSReservedSSO_Dev_Ops_0123456789abcdef",
                  "AWSReservedSSO_Dev_0123456789abcde"):
        other_caller, other_req = sso(other)
        assert evaluate_trust(trust, other_req, other_caller, may_assume) == IMPLICIT, other
    # Another account's role with a matching name is not this account's.
    foreign = Caller("role", f"arn:aws:iam::210987654321:role/x", "210987654321")
    assert evaluate_trust(trust, Request("sts:AssumeRole", STAGE_ROLE, {"aws:PrincipalArn": foreign.arn}), foreign, may_assume) == IMPLICIT


def test_a_boundary_limits_a_grant_to_a_roles_arn_but_not_to_its_session_or_a_user():
    # LOGIC, "Identity-based policies with boundaries and resource-based policies".
    role = Caller("role", f"arn:aws:iam::{ACCT}:role/platform-admins", ACCT, f"arn:aws:sts::{ACCT}:assumed-role/platform-admins/s")
    req = Request("sts:AssumeRole", STAGE_ROLE, {"aws:PrincipalArn": role.arn})
    by_role = doc({"Effect": "Allow", "Principal": {"AWS": role.arn}, "Action": "sts:AssumeRole"})
    by_session = doc({"Effect": "Allow", "Principal": {"AWS": role.session_arn}, "Action": "sts:AssumeRole"})
    boundary = [doc(allow("s3:*"))]
    assert evaluate_trust(by_role, req, role) == ALLOW
    assert evaluate_trust(by_role, req, role, boundary_docs=boundary) == IMPLICIT
    assert evaluate_trust(by_session, req, role, boundary_docs=boundary) == ALLOW
