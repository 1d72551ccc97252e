"""`make invoke`: the three events, in order, through `cargo lambda watch` and `cargo lambda invoke`
against one moto, each answered SUCCESS as CloudFormation would read it (tools/invoke.py)."""
import os
import subprocess
import sys

from harness import ROOT, free_port


def test_make_invoke_runs_create_update_delete_in_order():
    env = {**os.environ, "MOTO_PORT": str(free_port()), "INVOKE_PORT": str(free_port()),
           "VIRTUAL_ENV": str(ROOT / ".venv")}
    env = {k: v for k, v in env.items() if not k.startswith("SERVERLESS_ACCESS_")}
    try:
        for event in ("create", "update", "delete"):
            out = subprocess.run([sys.executable, str(ROOT / "tools" / "invoke.py"), event], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=900)
            assert out.returncode == 0, f"{event}: {out.stdout}\n{out.stderr}"
            assert '"Status": "SUCCESS"' in out.stdout, out.stdout
        assert "role   orders-prod" not in out.stdout, "the delete left roles behind"
    finally:
        subprocess.run([sys.executable, str(ROOT / "tools" / "invoke.py"), "stop"], cwd=ROOT, env=env, timeout=60)
