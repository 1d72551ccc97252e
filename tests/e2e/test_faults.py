"""Resilience: throttling, 5xx, IAM propagation delay, slow calls, persistent failures."""
import json
import time
from datetime import datetime

import pytest

from harness import iam_snapshot, our_grants
from proxy import Rule, is_write

EMPTY = {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}


def props(key_arn, n=5):
    return {"ServiceName": "orders", "Stage": "prod", "KmsKeyArn": key_arn,
            "Functions": [{"Name": f"f{i}", "Kms": ["Decrypt"]} for i in range(n)]}


def role(name):
    return f"orders-prod-us-east-1-{name}"


def grantee_is(name):
    return lambda arn: (arn or "").endswith(f"/{role(name)}")


def test_every_write_throttled_on_its_first_attempt_is_retried_to_success(faulty, iam, kms, key_arn):
    # Each distinct write is throttled once, whichever order the concurrent writes arrive in.
    cfn, proxy = faulty
    proxy.rules.append(Rule(lambda s, a: is_write(a) and s in ("iam", "kms"), "throttle", first_attempts=1))
    a = cfn.create(props(key_arn))
    assert a["Status"] == "SUCCESS", a
    assert len(iam_snapshot(iam)["roles"]) == 5 and len(our_grants(kms, key_arn)) == 5
    rule = proxy.rules[0]
    assert rule.fired == len(rule.attempts) >= 10, "every distinct write was throttled once"
    assert all(n == 2 for n in rule.attempts.values()), "and sent once more, not more"


def test_5xx_from_iam_and_kms_are_retried(faulty, iam, kms, key_arn):
    # Named entities fail, not the n-th call: the same calls fail whatever the order.
    cfn, proxy = faulty
    iam_rules = [Rule(lambda s, a: a == "CreateRole", "5xx", times=2, where={"RoleName": role("f1")}),
                 Rule(lambda s, a: a == "PutRolePolicy", "5xx", times=2, where={"RoleName": role("f3")}),
                 Rule(lambda s, a: a == "CreateGroup", "5xx", times=2, where={"GroupName": role("developer")}),
                 Rule(lambda s, a: a == "ListRoles", "5xx", times=2)]
    kms_rule = Rule(lambda s, a: a == "CreateGrant", "5xx", times=3, where={"GranteePrincipal": grantee_is("f2")})
    proxy.rules.extend(iam_rules + [kms_rule])
    a = cfn.create(props(key_arn))
    assert a["Status"] == "SUCCESS", a
    assert len(our_grants(kms, key_arn)) == 5
    assert [r.fired for r in iam_rules] == [2, 2, 2, 2] and kms_rule.fired == 3
    assert proxy.count("CreateRole", RoleName=role("f1")) == 3, "two failures, then one success"


def test_a_grantee_not_yet_propagated_is_retried_until_it_is(faulty, kms, key_arn):
    cfn, proxy = faulty
    rule = Rule(lambda s, a: a == "CreateGrant", "invalid_arn", times=4, where={"GranteePrincipal": grantee_is("f0")})
    proxy.rules.append(rule)
    a = cfn.create(props(key_arn, n=1))
    assert a["Status"] == "SUCCESS", a
    assert len(our_grants(kms, key_arn)) == 1
    assert rule.fired == 4


def answered_at(log_dir, request_id):
    """When the provider began its answer to `request_id` (its own log line, wall clock)."""
    for line in (log_dir / "provider.log").read_text().splitlines():
        entry = json.loads(line)
        if entry.get("fields", {}).get("message") == "answering" and entry.get("span", {}).get("RequestId") == request_id:
            return datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
    raise AssertionError(f"no answer logged for {request_id}")


def test_when_every_call_is_slow_the_answer_goes_out_10_s_before_the_deadline_and_no_call_lands_after_it(faulty, cfn, iam, key_arn, log_dir):
    slow, proxy = faulty
    proxy.latency_s = 0.3
    p = props(key_arn, n=40)
    ev = slow.event("Create", p)
    started = time.time()
    slow.runtime.invoke(ev, timeout_s=60, deadline_s=22)
    deadline = slow.runtime.last_deadline_ms / 1000
    assert time.time() - started < 22
    answer = slow.answer(ev)
    assert answer["Status"] == "FAILED" and "time ran out" in answer["Reason"]
    answered = answered_at(log_dir, ev["RequestId"])
    assert answered <= deadline - 10, f"answered {deadline - answered:.2f} s before the deadline"
    time.sleep(2)  # a call still on its way would land now
    with proxy.lock:
        landed = list(proxy.landed)
    assert landed, "calls were made"
    late = [(round(t - answered, 3), s, a) for t, s, a in landed if t > answered]
    assert late == [], f"AWS calls landed after the answer: {late}"
    proxy.latency_s = 0
    assert cfn.delete(answer["PhysicalResourceId"], p)["Status"] == "SUCCESS"
    assert iam_snapshot(iam) == EMPTY


def test_a_persistent_failure_fails_fast_naming_the_entity_and_the_rollback_leaves_nothing(faulty, iam, kms, key_arn):
    # One function's role policy is refused, whatever order the six roles' writes arrive in.
    cfn, proxy = faulty
    proxy.rules.append(Rule(lambda s, a: a == "PutRolePolicy", "malformed", where={"RoleName": role("f2")}))
    p = props(key_arn, n=6)
    started = time.time()
    a = cfn.create(p)
    assert time.time() - started < 10, "not retried"
    assert a["Status"] == "FAILED"
    assert f"iam:PutRolePolicy {role('f2')}" in a["Reason"] and "MalformedPolicyDocument" in a["Reason"], a["Reason"]
    assert proxy.count("PutRolePolicy", RoleName=role("f2")) == 1, "a malformed document is never retried"
    # Six execution roles and the deployment role: one attempt each at most.
    assert proxy.calls[("iam", "PutRolePolicy")] <= 7
    proxy.rules.clear()
    assert cfn.delete(a["PhysicalResourceId"], p)["Status"] == "SUCCESS"
    assert iam_snapshot(iam) == EMPTY
    assert our_grants(kms, key_arn) == []


def test_a_policy_version_whose_answer_was_lost_is_not_written_twice(faulty, iam, kms, key_arn):
    cfn, proxy = faulty
    props = {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api"}]}
    a = cfn.create(props)
    arn = iam_snapshot(iam)["policies"][role("deploy")]["arn"]
    rule = Rule(lambda s, act: act == "CreatePolicyVersion", "lost", times=1, where={"PolicyArn": arn})
    proxy.rules.append(rule)
    changed = dict(props, DeploymentBucket="orders-deploys")
    assert cfn.update(a["PhysicalResourceId"], changed, props)["Status"] == "SUCCESS"
    assert rule.fired == 1
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 2, "one new version, not two"


def test_delete_conflicts_iam_reports_after_the_dependencies_are_gone_are_retried(faulty, iam, kms, key_arn):
    cfn, proxy = faulty
    props = {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api"}]}
    a = cfn.create(props)
    arn = iam_snapshot(iam)["policies"][role("deploy")]["arn"]
    rules = [Rule(lambda s, act: act == "DeletePolicy", "conflict", times=2, where={"PolicyArn": arn}),
             Rule(lambda s, act: act == "DeleteGroup", "conflict", times=2, where={"GroupName": role("developer")}),
             Rule(lambda s, act: act == "DeleteRole", "conflict", times=2, where={"RoleName": role("api")})]
    proxy.rules.extend(rules)
    assert cfn.delete(a["PhysicalResourceId"], props)["Status"] == "SUCCESS"
    assert [r.fired for r in rules] == [2, 2, 2]
    assert iam_snapshot(iam) == {"groups": {}, "roles": {}, "deployment_roles": {}, "policies": {}}


def test_grants_are_found_by_name_across_pages_of_at_most_100_and_never_by_grantee_arn(faulty, kms, key_arn):
    # The proxy pages ListGrants as KMS does (Limit ≤ 100, 50 by default) and shows role grantees as
    # unique ids; 150 grants of others put the provider's own on later pages.
    cfn, proxy = faulty
    for i in range(150):
        kms.create_grant(KeyId=key_arn, Name=f"others-{i}", Operations=["Decrypt"],
                         GranteePrincipal=f"arn:aws:iam::123456789012:role/others-{i}")
    p = props(key_arn, n=3)
    a = cfn.create(p)
    assert a["Status"] == "SUCCESS", a
    changed = {**p, "Functions": [*p["Functions"][:2], {"Name": "f2"}]}
    assert cfn.update(a["PhysicalResourceId"], changed, p)["Status"] == "SUCCESS"
    assert len(our_grants(kms, key_arn)) == 2, "the grant on the last page was found and retired"
    assert cfn.delete(a["PhysicalResourceId"], changed)["Status"] == "SUCCESS"
    assert our_grants(kms, key_arn) == []
    others = [g for page in kms.get_paginator("list_grants").paginate(KeyId=key_arn) for g in page["Grants"]]
    assert len(others) == 150, "nobody else's grant was touched"
    assert proxy.truncated_grant_pages > 0, "the listing really spanned pages"
    assert proxy.list_grants_limits and set(proxy.list_grants_limits) == {100}, proxy.list_grants_limits


def test_the_resources_own_groups_iam_still_lists_after_their_detachment_do_not_block_the_delete(faulty, iam, kms, key_arn):
    # IAM lists a policy's groups for a while after they were detached and deleted; the provider's
    # own groups are not "attached elsewhere".
    cfn, proxy = faulty
    proxy.stale_detachments_s = 30
    p = props(key_arn, n=1)
    a = cfn.create(p)
    assert a["Status"] == "SUCCESS", a
    d = cfn.delete(a["PhysicalResourceId"], p)
    assert d["Status"] == "SUCCESS", d
    assert proxy.stale_listings > 0, "the policy's listing still showed the deleted groups"
    assert iam_snapshot(iam) == EMPTY


def one_of_each(iam, kind, name):
    """How many entities of `kind` are named `name` in the account, on any path."""
    if kind == "role":
        return sum(r["RoleName"] == name for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"])
    if kind == "group":
        return sum(g["GroupName"] == name for page in iam.get_paginator("list_groups").paginate() for g in page["Groups"])
    return sum(p["PolicyName"] == name for page in iam.get_paginator("list_policies").paginate(Scope="Local") for p in page["Policies"])


LOST = [("CreateRole", "RoleName", "role", role("f1")),
        ("CreateRole", "RoleName", "role", "orders-prod-us-east-1.deploy"),
        ("CreateGroup", "GroupName", "group", role("developer")),
        ("CreatePolicy", "PolicyName", "policy", role("deploy"))]


@pytest.mark.parametrize("action,field,kind,name", LOST, ids=[f"{a} {n}" for a, _, _, n in LOST])
def test_a_create_whose_answer_was_lost_converges_on_the_entity_it_made(faulty, iam, kms, key_arn, action, field, kind, name):
    # The call reaches IAM and takes effect, but its answer is a 5xx (as after a timeout): the
    # retry meets the entity the lost call made and takes it as its own; nothing is made twice.
    cfn, proxy = faulty
    rule = Rule(lambda s, a: a == action, "lost", times=1, where={field: name})
    proxy.rules.append(rule)
    p = props(key_arn, n=2)
    a = cfn.create(p)
    assert a["Status"] == "SUCCESS", a
    assert rule.fired == 1 and proxy.count(action, **{field: name}) == 2, "lost once, sent once more"
    assert one_of_each(iam, kind, name) == 1
    snap = iam_snapshot(iam)
    assert sorted(snap["roles"]) == [role("f0"), role("f1")] and len(snap["groups"]) == 3
    assert sorted(snap["policies"]) == [role("deploy"), role("deploy-functions")]
    for g in snap["groups"].values():
        assert g["attached"] == sorted(x["arn"] for x in snap["policies"].values())
    for r in snap["roles"].values():
        assert r["inline"] and r["boundary"] and "serverless-access:stack-id" in r["tags"], r
    (deployer,) = snap["deployment_roles"].values()
    assert deployer["inline"] and deployer["boundary"] and deployer["tags"]["serverless-access:service"] == "orders"
    for x in snap["policies"].values():
        assert len(iam.list_policy_versions(PolicyArn=x["arn"])["Versions"]) == 1
    # Converged: the same request again changes nothing.
    again = cfn.update(a["PhysicalResourceId"], p, p)
    assert again["Status"] == "SUCCESS" and iam_snapshot(iam) == snap
    assert len(our_grants(kms, key_arn)) == 2

