"""botocore's Stubber for the AWS operations the emulator lacks, per service, region and
account: ``stubs.stub("accessanalyzer", "us-east-1", account)`` answers every call of that
client from the Stubber; ``ops={...}`` only those operations, the rest reaching moto."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from apps.baseline.steps import aws as baseline_aws
from apps.cloud import api as cloud


@dataclass
class _Stub:
    client: Any
    stubber: Stubber
    ops: frozenset[str] | None


class _PartlyStubbed:
    def __init__(self, real: Any, stub: _Stub) -> None:
        self._real, self._stub = real, stub

    def __getattr__(self, name: str) -> Any:
        if self._stub.ops is None or name in self._stub.ops:
            return getattr(self._stub.client, name)
        return getattr(self._real, name)


@dataclass
class Stubs:
    by_key: dict[tuple[str, str, str], _Stub] = field(default_factory=dict)

    def stub(self, service: str, region: str, account_id: str, *, ops: set[str] | None = None) -> Stubber:
        client = boto3.client(service, region_name=region, aws_access_key_id="stub", aws_secret_access_key="stub")
        stubber = Stubber(client)
        stubber.activate()
        self.by_key[(service, region, account_id)] = _Stub(client, stubber, frozenset(ops) if ops else None)
        return stubber

    def wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        accounts: dict[int, str] = {}

        def client(service: str, *, session: Any, region: str | None = None) -> Any:
            made = real(service, session=session, region=region)
            chosen = region or "us-east-1"
            if not any(key[:2] == (service, chosen) for key in self.by_key):
                return made
            if id(session) not in accounts:
                accounts[id(session)] = cloud.client("sts", session=session).get_caller_identity()["Account"]
            stub = self.by_key.get((service, chosen, accounts[id(session)]))
            return made if stub is None else _PartlyStubbed(made, stub)

        return client

    def assert_all_used(self) -> None:
        for stub in self.by_key.values():
            stub.stubber.assert_no_pending_responses()


def install_stubs(monkeypatch: pytest.MonkeyPatch) -> Stubs:
    """The baseline steps' clients, with Stubbers where a test registers them."""
    registry = Stubs()
    monkeypatch.setattr(baseline_aws, "client", registry.wrap(baseline_aws.client))
    return registry
