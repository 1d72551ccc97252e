"""Fixtures: one moto per session; every provider runs as template.yaml deploys it (its environment
rendered from the template) behind a proxy that authorizes each of its calls against the provider
role's policy as the template renders it (authz.py). A test fails if the provider made a call its
role does not allow, unless it says it expects denials."""
import json
import os
from pathlib import Path

import pytest

import independent_engine
from authz import Authorizer, Principal
from harness import ACCOUNT, REGION, ROOT, Cfn, Moto, Provider, RuntimeApi, reset_moto
from proxy import FaultProxy
from template_render import PROVIDER_FUNCTION, Rendered

LOG_DIR = Path(os.environ.get("E2E_LOG_DIR", ROOT / "target" / "e2e-logs"))
PROVIDER_KEY = "AKIAPROVIDERROLE0001"
KEYS = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"


# Every decision of the IAM evaluator during the session is recorded for the differential check
# against an independent engine (test_engines_agree.py), which runs after every other test.
independent_engine.install()
LAST = "test_engines_agree.py"


def pytest_configure(config):
    config.addinivalue_line("markers", "expect_denials(*actions): the test provokes these calls, which the provider role may not make and the provider handles")


def pytest_collection_modifyitems(session, config, items):
    """The differential check compares the decisions of every test before it: it runs last."""
    items.sort(key=lambda item: item.path.name == LAST)


def pytest_terminal_summary(terminalreporter):
    summary = getattr(independent_engine.CORPUS, "summary", None)
    if summary:
        terminalreporter.write_line(summary)


@pytest.fixture(scope="session")
def log_dir():
    """The provider's logs; after the whole session they must hold no ResponseURL signature or
    secret, and be JSON line by line (checked here, whatever order the tests ran in)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for f in LOG_DIR.glob("*.log"):
        f.unlink()
    yield LOG_DIR
    log = LOG_DIR / "provider.log"
    if not log.exists():
        return
    text = log.read_text()
    for secret in ("X-Amz-Signature=", "X-Amz-Credential=", "secret-signature", "testing"):
        assert secret not in text, f"the provider logged {secret!r}"
    for line in text.splitlines():
        json.loads(line)


@pytest.fixture(scope="session")
def moto(log_dir):
    m = Moto(log_dir)
    yield m
    m.stop()


@pytest.fixture()
def aws(moto):
    """A clean local AWS for each test."""
    reset_moto(moto)
    return moto


class Deployment:
    """A provider as template.yaml deploys it with `params`, its calls authorized by its role."""

    def __init__(self, aws, log_dir, params=None, extra_env=None, latency_s=0.0):
        self.template = Rendered({"AllowedKmsKeyArns": KEYS, **(params or {})})
        role = self.template.get_att("ProviderRole", "Arn")
        self.authorizer = Authorizer(aws.port, {PROVIDER_KEY: Principal(role, self.template.provider_policies())})
        self.proxy = FaultProxy(aws.port, latency_s=latency_s, authorizer=self.authorizer)
        self.env = {**self.template.provider_env(), "AWS_LAMBDA_FUNCTION_NAME": PROVIDER_FUNCTION, **(extra_env or {})}
        self.runtime = RuntimeApi()
        self.provider = Provider(aws, self.runtime, log_dir / "provider.log", self.env, self.proxy.url, access_key=PROVIDER_KEY)
        self.cfn = Cfn(aws, self.runtime)
        self.cfn.provider_env = self.env

    def stop(self):
        self.provider.stop()
        self.proxy.stop()


@pytest.fixture()
def deployments(aws, log_dir, request):
    """Starts providers; at teardown, fails on any call a provider's role did not allow."""
    started = []

    def make(params=None, extra_env=None, latency_s=0.0):
        d = Deployment(aws, log_dir, params, extra_env, latency_s)
        started.append(d)
        return d

    yield make
    for d in started:
        d.stop()
    marker = request.node.get_closest_marker("expect_denials")
    expected = set(marker.args) if marker else set()
    denials = [x for d in started for x in d.authorizer.denials if getattr(x, "action", None) not in expected]
    assert not denials, f"the provider made calls its role (template.yaml) does not allow: {denials}"


@pytest.fixture()
def cfn(deployments):
    """A CloudFormation stand-in talking to a provider deployed with the template's defaults."""
    return deployments().cfn


@pytest.fixture()
def cfn_factory(deployments):
    """Starts a provider deployed with other template parameters (and extra environment)."""

    def make(params=None, extra_env=None):
        return deployments(params, extra_env).cfn

    return make


@pytest.fixture()
def iam(aws):
    return aws.client("iam")


@pytest.fixture()
def kms(aws):
    return aws.client("kms")


@pytest.fixture()
def key_arn(kms):
    # moto leaves KeyUsage unset unless given; AWS defaults it to ENCRYPT_DECRYPT.
    return kms.create_key(Description="orders", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]


@pytest.fixture()
def faulty(deployments):
    """A provider whose AWS calls also go through fault rules: returns (cfn, proxy)."""
    d = deployments()
    return d.cfn, d.proxy
