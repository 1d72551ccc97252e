"""Fixtures: one moto per session; every provider runs as template.yaml deploys it (its environment
rendered from the template) behind a proxy that authorizes each of its calls against the provider
role's policy as the template renders it (authz.py). A test fails if the provider made a call its
role does not allow, unless it says it expects denials; if any request reached the proxy that it
could not attribute to the provider's key or could not decode; and if the proxy authorized nothing
at all (a layer that checked nothing proves nothing), unless the test says the provider answers it
without calling AWS (`no_aws_calls`, then the proxy must have seen no request).

The CloudFormation response channel does not pass through the authorizing proxy: ResponseURL is a
pre-signed S3 URL that `Cfn.response_url` signs for moto's own address (harness.py), and the
provider PUTs to it directly, as CloudFormation's pre-signed bucket is reached in AWS with the URL's
own signature and no credentials of the provider. test_authorizing_layers.py proves that path."""
import json
import os
from pathlib import Path

import pytest

import independent_engine
from authz import Authorizer, Principal
from deployer_authz import DeployerProxy
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

CHECKED = {"provider": 0, "provider refused (expected)": 0, "deployer": 0, "deployer refused (expected)": 0}


def pytest_configure(config):
    config.addinivalue_line("markers", "expect_denials(*actions): the test provokes these calls, which the provider role may not make and the provider handles; "
                                       "'unattributed' or 'undecodable' for requests a canary makes that the authorizing layer must refuse")
    config.addinivalue_line("markers", "no_aws_calls: the provider answers this test without calling AWS; its proxy must see no request")


def expected_refusals(request):
    marker = request.node.get_closest_marker("expect_denials")
    return set(marker.args) if marker else set()


def pytest_collection_modifyitems(session, config, items):
    """The differential check compares the decisions of every test before it: it runs last."""
    items.sort(key=lambda item: item.path.name == LAST)


def pytest_terminal_summary(terminalreporter):
    """The counts that say the suite checked what it claims: requests the authorizing proxies
    decided, and decisions compared with an independent engine."""
    if any(CHECKED.values()):
        terminalreporter.write_line("authorizing proxies: " + ", ".join(f"{k} {v}" for k, v in CHECKED.items()))
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
    expected = expected_refusals(request)
    refused = [x for d in started for x in d.authorizer.denials]
    unexpected = [x for d in started for x in d.authorizer.unexpected(expected)]
    CHECKED["provider"] += sum(d.authorizer.authorized for d in started)
    CHECKED["provider refused (expected)"] += len(refused) - len(unexpected)
    assert not [x for x in unexpected if x.kind != "denied"], (
        f"requests reached the authorizing proxy that it could not attribute or decode: {unexpected}")
    assert not unexpected, f"the provider made calls its role (template.yaml) does not allow: {unexpected}"
    if not started:
        return
    seen = sum(len(d.proxy.requests) for d in started)
    if request.node.get_closest_marker("no_aws_calls"):
        assert seen == 0, f"the provider called AWS {seen} times in a test marked no_aws_calls"
    else:
        assert sum(d.authorizer.authorized for d in started) > 0, (
            f"the authorizing proxy authorized none of the {seen} requests it saw: the test's calls were not checked")


@pytest.fixture()
def deployer_proxy(aws, request):
    """Starts authorizing proxies for deployers: `make(users, issuers)` with users an access key → IAM
    user name map and the OIDC issuers (web_identity.Issuer) whose tokens it can verify. At teardown, fails on any request a proxy refused that the test did not mark as
    expected (`DeployerProxy.expect`, or the expect_denials marker), on any unattributed or
    undecodable request, and if a proxy authorized nothing."""
    started = []

    def make(users, issuers=()):
        p = DeployerProxy(aws.port, users, issuers)
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()
    expected = expected_refusals(request)
    for p in started:
        unexpected = p.unexpected(expected)
        CHECKED["deployer"] += p.authorized
        CHECKED["deployer refused (expected)"] += len(p.refused()) + len(p.unattributed) + len(p.undecodable) - len(unexpected)
        assert not unexpected, f"the deployer proxy refused requests the test did not expect: {unexpected}"
        assert p.authorized > 0, f"the deployer proxy authorized none of the {len(p.seen)} requests it saw"


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
