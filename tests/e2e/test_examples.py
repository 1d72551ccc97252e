"""The property schema, the examples and `serverless-access plan`, kept in step with the parser."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from cfn_handler_permissions import stack_tags
from harness import ROOT

SCHEMA = json.loads((ROOT / "schema" / "serverless-access.schema.json").read_text())
BIN = os.environ.get("SERVERLESS_ACCESS_BIN", str(ROOT / "target" / "release" / "serverless-access"))
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::StackName": "orders-access"}


class Intrinsic:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value


class CfnLoader(yaml.SafeLoader):
    pass


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: Intrinsic(
    suffix, loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else loader.construct_sequence(node)))


def resolve(v):
    """What CloudFormation would send for the intrinsics the example uses."""
    if isinstance(v, Intrinsic):
        if v.tag == "Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: PSEUDO[m.group(1)], v.value)
        if v.tag == "GetAtt" and v.value == "OrdersKey.Arn":
            return "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
        if v.tag == "ImportValue":
            return "arn:aws:lambda:us-east-1:123456789012:function:serverless-access-ProviderFunction-ABC"
        raise AssertionError(f"unexpected intrinsic !{v.tag}")
    if isinstance(v, dict):
        return {k: resolve(x) for k, x in v.items()}
    if isinstance(v, list):
        return [resolve(x) for x in v]
    return v


def as_cloudformation_sends(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict):
        return {k: as_cloudformation_sends(x) for k, x in v.items()}
    if isinstance(v, list):
        return [as_cloudformation_sends(x) for x in v]
    return v


def example_stack():
    return yaml.load((ROOT / "examples" / "access-stack.yaml").read_text(), Loader=CfnLoader)


def example_properties():
    return as_cloudformation_sends(resolve(example_stack()["Resources"]["Access"]["Properties"]))


def plan(props, *extra, tmp_path):
    f = tmp_path / f"props-{abs(hash(json.dumps(props, sort_keys=True)))}.json"
    f.write_text(json.dumps(props))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVERLESS_ACCESS_")}
    return subprocess.run([BIN, "plan", *extra, str(f)], capture_output=True, text=True, env=env, timeout=60)


def all_property_sets():
    sets = {f"events/{p.name}": json.loads(p.read_text())["ResourceProperties"] for p in sorted((ROOT / "events").glob("*.json"))}
    sets["examples/access-stack.yaml"] = example_properties()
    return sets


@pytest.mark.parametrize("name", sorted(all_property_sets()))
def test_every_example_and_event_validates_against_the_schema_and_plans(name, tmp_path):
    props = all_property_sets()[name]
    jsonschema.validate(props, SCHEMA)
    out = plan(props, "--json", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr


INVALID = {
    "unknown property": {"ServiceName": "orders", "Stage": "prod", "Bogus": "x"},
    "missing stage": {"ServiceName": "orders"},
    "stage with hyphen": {"ServiceName": "orders", "Stage": "dev-x"},
    "unknown group": {"ServiceName": "orders", "Stage": "prod", "Groups": ["root"]},
    "non-boolean Vpc": {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api", "Vpc": "maybe"}]},
    "unknown grant operation": {"ServiceName": "orders", "Stage": "prod", "KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k",
                                "Functions": [{"Name": "api", "Kms": ["CreateGrant"]}]},
    "statement with Principal": {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api", "Statements": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}]},
    "function key with a dot": {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api.v2"}]},
    "reserved tag": {"ServiceName": "orders", "Stage": "prod", "Tags": {"aws:team": "x"}},
    "misspelt invoker group": {"ServiceName": "orders", "Stage": "prod", "Groups": ["invokers"]},
    "17 subnets": {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api", "Vpc": {
        "SubnetIds": [f"subnet-{i:08x}" for i in range(17)], "SecurityGroupIds": ["sg-1a2b3c4d"]}}]},
    "wildcard subnet": {"ServiceName": "orders", "Stage": "prod", "Functions": [{"Name": "api", "Vpc": {
        "SubnetIds": ["subnet-*"], "SecurityGroupIds": ["sg-1a2b3c4d"]}}]},
    "wildcard API stage": {"ServiceName": "orders", "Stage": "prod", "InvokeApis": [{"ApiId": "a1b2c3d4e5", "Stage": "*"}]},
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_schema_and_parser_both_refuse(case, tmp_path):
    props = INVALID[case]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(props, SCHEMA)
    out = plan(props, tmp_path=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith("invalid properties"), (out.returncode, out.stderr)


def test_schema_lists_exactly_the_parsers_properties():
    src = "".join(p.read_text() for p in sorted((ROOT / "src" / "domain" / "properties").glob("*.rs")))
    top = re.search(r"const TOP_KEYS: &\[&str\] = &\[(.*?)\];", src, re.S).group(1)
    fn = re.search(r"const FUNCTION_KEYS: &\[&str\] = &\[(.*?)\];", src, re.S).group(1)
    assert set(re.findall(r'"(\w+)"', top)) == set(SCHEMA["properties"])
    assert set(re.findall(r'"(\w+)"', fn)) == set(SCHEMA["$defs"]["function"]["properties"])


def test_readme_documents_every_property_in_the_schema():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `(?:Functions\[\]\.)?(\w+)`(?:, `(\w+)`)?", readme, re.M))
    names = {n for pair in documented for n in pair if n}
    expected = (set(SCHEMA["properties"]) - {"ServiceToken", "ServiceTimeout", "Functions"}) | set(SCHEMA["$defs"]["function"]["properties"])
    assert expected <= names, expected - names
    assert "schema/serverless-access.schema.json" in readme


def cfn_lint(template):
    return subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(template)], capture_output=True, text=True, timeout=300)


def test_the_example_access_stack_passes_cfn_lint():
    out = cfn_lint(ROOT / "examples" / "access-stack.yaml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_positive_control_cfn_lint_rejects_a_known_bad_template_naming_its_rules():
    # Exiting non-zero is not enough: a crash exits non-zero too. The rules must be named.
    out = cfn_lint(ROOT / "tests" / "static-controls" / "known-bad-template.yaml")
    assert out.returncode != 0 and "E3002" in out.stdout and "W3037" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("app_file", ["serverless.yml", "serverless.v3.yml"])
def test_the_example_app_uses_the_roles_and_names_plan_prints(tmp_path, app_file):
    app = yaml.safe_load((ROOT / "examples" / app_file).read_text())
    # Each deployer's defaults: no deploymentMethod and no deploymentBucket to work around the groups.
    assert "deploymentMethod" not in app["provider"] and "deploymentBucket" not in app["provider"]
    props = example_properties()
    assert app["service"] == props["ServiceName"] and app["provider"]["stage"] == props["Stage"]
    # The ownership tags the stage's APIs and event source mappings must carry (cfn_handler_permissions).
    assert app["provider"]["stackTags"] == stack_tags(props["ServiceName"], props["Stage"])
    planned = json.loads(plan(props, "--json", tmp_path=tmp_path).stdout)
    roles = {r["function"]: r for r in planned["roles"] if r["kind"] == "execution"}
    outputs = example_stack()["Outputs"]
    assert set(app["functions"]) == set(roles)
    for key, fn in app["functions"].items():
        output = re.fullmatch(r"\$\{cf:orders-access\.(\w+)\}", fn["role"]).group(1)
        assert outputs[output]["Value"].value == f"Access.Roles.{key}.Arn"
        assert f"Roles.{key}.Arn" in planned["attributes"]
        assert roles[key]["functionName"] == f"{app['service']}-{app['provider']['stage']}-{key}"
        actions = {a for st in roles[key]["inline"]["execution"]["Statement"] for a in st["Action"]}
        assert ("ec2:CreateNetworkInterface" in actions) == ("vpc" in fn)
        assert ("xray:PutTraceSegments" in actions) == (fn.get("tracing") == "Active")
        declared = next(f for f in props["Functions"] if f["Name"] == key)
        if isinstance(declared.get("Vpc"), dict):
            assert sorted(fn["vpc"]["subnetIds"]) == sorted(declared["Vpc"]["SubnetIds"])
            assert sorted(fn["vpc"]["securityGroupIds"]) == sorted(declared["Vpc"]["SecurityGroupIds"])
        assert (fn.get("url", {}).get("authorizer") == "aws_iam") == (declared.get("InvokeUrl") == "true")
    assert {g["function"] for g in planned["grants"]} == set(roles)
    # CloudFormation deploys with the resource's deployment role (DeployWith: role, the default).
    output = re.fullmatch(r"\$\{cf:orders-access\.(\w+)\}", app["provider"]["iam"]["deploymentRole"]).group(1)
    assert outputs[output]["Value"].value == "Access.DeploymentRoleArn"
    (deployer,) = [r for r in planned["roles"] if r["kind"] == "deployment"]
    assert planned["attributes"]["DeploymentRoleArn"] == deployer["arn"]


def test_the_resolved_example_properties_match_the_example_stack():
    resolved = yaml.safe_load((ROOT / "examples" / "access-properties.yaml").read_text())
    expected = {k: v for k, v in example_properties().items() if k not in ("ServiceToken", "ServiceTimeout")}
    assert as_cloudformation_sends(resolved) == expected
