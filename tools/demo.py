"""make demo: moto on loopback, the provider under the Runtime API emulator, and a realistic stack
taken through Create → Update → Delete, printing each CloudFormation answer and what exists in IAM/KMS."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from harness import ACCOUNT, Cfn, Moto, Provider, RuntimeApi, iam_snapshot, our_grants  # noqa: E402

LOGS = Path(__file__).resolve().parents[1] / "target" / "demo-run"


def writes(request_id):
    """The number of changes the provider logged as applied for a request (0: no write at all)."""
    for line in reversed((LOGS / "provider.log").read_text().splitlines()):
        rec = json.loads(line)
        if rec.get("span", {}).get("RequestId") == request_id and rec.get("fields", {}).get("message") == "reconciled":
            return rec["fields"]["applied"]
    return 0


def show(title, answer):
    print(f"\n=== {title}: {writes(answer['RequestId'])} changes applied; CloudFormation receives ===")
    print(json.dumps(answer, indent=2))


def state(moto, key):
    iam, kms = moto.client("iam"), moto.client("kms")
    snap = iam_snapshot(iam)
    print("--- IAM under /serverless-access/ ---")
    for name, g in snap["groups"].items():
        print(f"group  {name}  path={g['path']}  inline={sorted(g['inline'])}  attached={[a.split('/')[-1] for a in g['attached']]}  members={g['users']}")
    for name in snap["policies"]:
        print(f"policy {name}")
    for name, r in snap["roles"].items():
        actions = sorted({a for st in r["inline"]["execution"]["Statement"] for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])})
        print(f"role   {name}  boundary={r['boundary']}  actions={actions}")
    for name, r in snap["deployment_roles"].items():
        trusted = r["trust"]["Statement"][0]["Principal"]["Service"]
        statements = len(r["inline"]["deployment"]["Statement"])
        print(f"role   {name}  (deployment role: trusted by {trusted}, {statements} statements)  boundary={r['boundary']}")
    for g in our_grants(kms, key):
        print(f"grant  {g['Name']}  grantee={g['GranteePrincipal'].split('/')[-1]}  ops={g['Operations']}")


def main():
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / "provider.log").write_text("")
    moto = Moto(LOGS)
    runtime = RuntimeApi()
    provider = Provider(moto, runtime, LOGS / "provider.log")
    try:
        cfn = Cfn(moto, runtime)
        key = moto.client("kms").create_key(Description="orders", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
        moto.client("iam").create_user(UserName="alice")
        props = {
            "ServiceName": "orders", "Stage": "prod", "KmsKeyArn": key, "Tags": {"team": "payments"},
            "Functions": [
                {"Name": "api", "Tracing": "true", "Kms": ["Decrypt"], "EncryptionContext": {"LambdaFunctionName": "orders-prod-api"},
                 "Statements": [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                                 "Resource": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"}]},
                {"Name": "worker", "Vpc": "true", "Kms": ["Decrypt", "GenerateDataKey"]},
            ],
        }
        created = cfn.create(props)
        show("Create", created)
        moto.client("iam").add_user_to_group(GroupName=created["Data"]["DeveloperGroupName"], UserName="alice")
        state(moto, key)
        updated_props = dict(props, Groups=["admin", "developer"], Functions=[props["Functions"][0], {"Name": "reports"}])
        updated = cfn.update(created["PhysicalResourceId"], updated_props, props)
        show("Update (ci group dropped, worker removed, reports added)", updated)
        state(moto, key)
        noop = cfn.update(created["PhysicalResourceId"], updated_props, updated_props)
        show("Update with unchanged properties (no writes)", noop)
        deleted = cfn.delete(created["PhysicalResourceId"], updated_props)
        show("Delete", deleted)
        state(moto, key)
        print(f"\nuser alice still exists: {moto.client('iam').get_user(UserName='alice')['User']['UserName'] == 'alice'}")
        print(f"provider logs (JSON, ResponseURL redacted): {LOGS / 'provider.log'}")
        ok = created["Status"] == updated["Status"] == noop["Status"] == deleted["Status"] == "SUCCESS"
        return 0 if ok else 1
    finally:
        provider.stop()
        moto.stop()


if __name__ == "__main__":
    sys.exit(main())
