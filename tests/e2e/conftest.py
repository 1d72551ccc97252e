import os
from pathlib import Path

import pytest

from harness import ROOT, Cfn, Moto, Provider, RuntimeApi, reset_moto
from proxy import FaultProxy

LOG_DIR = Path(os.environ.get("E2E_LOG_DIR", ROOT / "target" / "e2e-logs"))


@pytest.fixture(scope="session")
def log_dir():
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for f in LOG_DIR.glob("*.log"):
        f.unlink()
    return LOG_DIR


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


def start(aws, log_dir, extra_env=None, endpoint=None):
    runtime = RuntimeApi()
    provider = Provider(aws, runtime, log_dir / "provider.log", extra_env, endpoint)
    return runtime, provider


@pytest.fixture()
def cfn(aws, log_dir):
    """A CloudFormation stand-in talking to a freshly started provider."""
    runtime, provider = start(aws, log_dir)
    yield Cfn(aws, runtime)
    provider.stop()


@pytest.fixture()
def cfn_factory(aws, log_dir):
    """Starts a provider with extra environment variables."""
    started = []

    def make(extra_env):
        runtime, provider = start(aws, log_dir, extra_env)
        started.append(provider)
        return Cfn(aws, runtime)

    yield make
    for p in started:
        p.stop()


@pytest.fixture()
def iam(aws):
    return aws.client("iam")


@pytest.fixture()
def kms(aws):
    return aws.client("kms")


@pytest.fixture()
def key_arn(kms):
    return kms.create_key(Description="orders")["KeyMetadata"]["Arn"]


@pytest.fixture()
def faulty(aws, log_dir):
    """A provider whose AWS calls go through a fault-injecting proxy: returns (cfn, proxy)."""
    proxy = FaultProxy(aws.port)
    runtime, provider = start(aws, log_dir, endpoint=proxy.url)
    yield Cfn(aws, runtime), proxy
    provider.stop()
    proxy.stop()
