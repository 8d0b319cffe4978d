"""Emulated AWS for the embedded mode and the tests: moto's server on a loopback port.

Real boto3 code crosses a real socket to it. Only the embedded mode and tests import
this module; moto is not installed in deployed packages.
"""

import socket
from dataclasses import dataclass

import botocore.exceptions
from moto.server import ThreadedMotoServer

from apps.cloud import api as cloud


@dataclass
class Emulator:
    url: str
    server: ThreadedMotoServer

    def stop(self) -> None:
        self.server.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_emulator(*, port: int = 0) -> Emulator:
    chosen = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=chosen, verbose=False)
    server.start()
    return Emulator(url=f"http://127.0.0.1:{chosen}", server=server)


def ensure_organization(*, management_role_arn: str | None = None) -> str:
    """An Organization (all features) in the emulated management account — Bespoke's own
    account, or the one ``management_role_arn`` leads into (a second payer's); its id."""
    org = cloud.client("organizations", session=cloud.management_session(role_arn=management_role_arn))
    try:
        return str(org.describe_organization()["Organization"]["MasterAccountId"])
    except botocore.exceptions.ClientError as error:
        if cloud.error_code(error) != "AWSOrganizationsNotInUseException":
            raise
    return str(org.create_organization(FeatureSet="ALL")["Organization"]["MasterAccountId"])
