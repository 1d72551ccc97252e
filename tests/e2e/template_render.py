"""template.yaml rendered as CloudFormation would: parameters, pseudo parameters, conditions and the
intrinsics the template uses (Ref, Sub, If, Equals, Not, Join, GetAtt), so tests evaluate the
provider role and the default boundary exactly as a deployment would create them."""
import re
from pathlib import Path

import yaml

from harness import ACCOUNT, REGION, ROOT

STACK_NAME = "serverless-access"
PROVIDER_FUNCTION = f"{STACK_NAME}-ProviderFunction-AbC123dEf456"
BOUNDARY_NAME = f"{STACK_NAME}-DefaultBoundary-0a1b2c3d4e5f"
DEPLOYMENT_BOUNDARY_NAME = f"{STACK_NAME}-DeploymentBoundary-6a7b8c9d0e1f"
STAGE_ROLE_BOUNDARY_NAME = f"{STACK_NAME}-StageRoleBoundary-1b2c3d4e5f6a"
PROVIDER_ROLE_NAME = f"{STACK_NAME}-ProviderRole-0a1b2c3d4e5f"


class Tag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value


class Loader(yaml.SafeLoader):
    pass


def _construct(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tag(suffix, value)


Loader.add_multi_constructor("!", _construct)


class NoValue:
    pass


class Rendered:
    def __init__(self, params=None, path=ROOT / "template.yaml"):
        self.t = yaml.load(Path(path).read_text(), Loader=Loader)
        self.params = {k: v.get("Default") for k, v in self.t["Parameters"].items()}
        self.params.update(params or {})
        for k, v in self.t["Parameters"].items():
            if v["Type"] == "CommaDelimitedList" and isinstance(self.params[k], str):
                self.params[k] = [x for x in self.params[k].split(",")] if self.params[k] else [""]
        self.pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                       "AWS::StackName": STACK_NAME, "AWS::URLSuffix": "amazonaws.com"}
        self.conditions = {k: self.value(v) for k, v in self.t.get("Conditions", {}).items()}

    # Physical ids of the template's resources, as CloudFormation would name them.
    def ref(self, name):
        if name == "AWS::NoValue":
            return NoValue
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name == "DefaultBoundary":
            return f"arn:aws:iam::{ACCOUNT}:policy{self.params['SystemIamPath']}{BOUNDARY_NAME}"
        if name == "DeploymentBoundary":
            return f"arn:aws:iam::{ACCOUNT}:policy{self.params['SystemIamPath']}{DEPLOYMENT_BOUNDARY_NAME}"
        if name == "StageRoleBoundary":
            return f"arn:aws:iam::{ACCOUNT}:policy{self.params['SystemIamPath']}{STAGE_ROLE_BOUNDARY_NAME}"
        if name == "FailureQueue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{STACK_NAME}-FailureQueue-X"
        raise KeyError(f"Ref {name}")

    def get_att(self, name, attr):
        if (name, attr) == ("ProviderRole", "Arn"):
            return f"arn:aws:iam::{ACCOUNT}:role{self.params['SystemIamPath']}{PROVIDER_ROLE_NAME}"
        if (name, attr) == ("FailureQueue", "Arn"):
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK_NAME}-FailureQueue-X"
        if (name, attr) == ("ProviderFunction", "Arn"):
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PROVIDER_FUNCTION}"
        raise KeyError(f"GetAtt {name}.{attr}")

    def sub(self, text, local=None):
        local = local or {}

        def one(m):
            inner = m.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in local:
                return str(local[inner])
            if "." in inner:
                return self.get_att(*inner.split(".", 1))
            v = self.ref(inner)
            return ",".join(v) if isinstance(v, list) else str(v)

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def value(self, v):
        if isinstance(v, Tag):
            t, x = v.tag, v.value
            if t == "Ref":
                return self.ref(x)
            if t == "Sub":
                return self.sub(x) if isinstance(x, str) else self.sub(x[0], {k: self.value(y) for k, y in x[1].items()})
            if t == "GetAtt":
                return self.get_att(*(x.split(".", 1) if isinstance(x, str) else x))
            if t == "Equals":
                a, b = (self.value(y) for y in x)
                return a == b
            if t == "Not":
                return not self.value(x[0])
            if t == "Join":
                parts = self.value(x[1])
                return x[0].join(str(p) for p in parts)
            if t == "Split":
                return str(self.value(x[1])).split(x[0])
            if t == "If":
                cond = self.conditions[x[0]]
                return self.value(x[1] if cond else x[2])
            raise KeyError(f"!{t}")
        if isinstance(v, dict):
            if "Ref" in v and len(v) == 1:
                return self.ref(v["Ref"])
            out = {}
            for k, y in v.items():
                y = self.value(y)
                if y is not NoValue:
                    out[k] = y
            return out
        if isinstance(v, list):
            out = []
            for y in v:
                y = self.value(y)
                if y is NoValue:
                    continue
                out.append(y)
            return out
        return v

    def resource(self, name):
        r = self.t["Resources"][name]
        if "Condition" in r and not self.conditions[r["Condition"]]:
            return None
        return self.value(r["Properties"])

    def provider_policies(self):
        return [p["PolicyDocument"] for p in self.resource("ProviderRole")["Policies"]]

    def boundary_document(self):
        b = self.resource("DefaultBoundary")
        return b["PolicyDocument"] if b else None

    def deployment_boundary_document(self):
        return self.resource("DeploymentBoundary")["PolicyDocument"]

    def stage_role_boundary_document(self):
        return self.resource("StageRoleBoundary")["PolicyDocument"]

    def provider_env(self):
        return {k: str(v) for k, v in self.resource("ProviderFunction")["Environment"]["Variables"].items()}
