"""How the baseline steps and read_back turn AWS errors into step errors, with stubbed
AWS answers: access denied fails for good, throttling is retried, the AWS code is kept,
and "not found" during a look-up is not an error at all."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from apps.baseline import api as baseline
from apps.baseline.steps import aws as baseline_aws
from apps.baseline.steps import cloudtrail as cloudtrail_step
from apps.baseline.steps import config as config_step
from apps.baseline.steps import iam as iam_step
from apps.baseline.steps import support as support_step
from apps.cloud import api as cloud
from apps.kernel.errors import PermanentError, RetryableError, StepError
from apps.kernel.steps import StepContext
from tests.conftest import DEMO_IDP_METADATA

ACCOUNT_ID = "210987654321"
PAYER_SETTINGS = {
    "management_account_id": "123456789012",
    "management_role_arn": "",
    "member_role_name": "OrganizationAccountAccessRole",
    "log_archive_bucket": "central-logs",
    "saml_provider_name": "bespoke-idp",
    "saml_metadata_document": DEMO_IDP_METADATA,
}
ONE_ROLE = {"roles": [{"name": "bespoke-admin"}], "password_policy": None, "account_alias": False}


def context(step: str, step_params: dict[str, Any] | None = None) -> StepContext:
    inputs = {
        "request_id": "11111111-1111-4111-8111-111111111111",
        "account_id": ACCOUNT_ID,
        "account_name": "demo-msfp-dev",
        "account_email": "aws.demo.msfp.dev@example.com",
        "region": "us-east-1",
        "regulated": False,
        "payer_settings": PAYER_SETTINGS,
        "step_params": step_params or {},
    }
    return StepContext(run_id="run-1", step=step, attempt=1, inputs=inputs)


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Stubber]]:
    """``stubbed("iam")``: the stubber of the one client per service the code gets; no
    session is assumed and nothing reaches the network."""
    stubbers: dict[str, Stubber] = {}

    def client(service: str, **kwargs: Any) -> Any:
        return stub(service).client

    def stub(service: str) -> Stubber:
        if service not in stubbers:
            stubbers[service] = Stubber(cloud.client(service, region="us-east-1"))
            stubbers[service].activate()
        return stubbers[service]

    monkeypatch.setattr(baseline_aws, "client", client)
    monkeypatch.setattr(cloud, "member_session_of", lambda inputs: None)
    monkeypatch.setattr(cloud, "management_session_of", lambda inputs: None)
    yield stub
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def deny(stubber: Stubber, operation: str, code: str = "AccessDenied") -> None:
    stubber.add_client_error(operation, service_error_code=code, service_message="no", http_status_code=403)


def throttle(stubber: Stubber, operation: str, code: str = "Throttling") -> None:
    stubber.add_client_error(operation, service_error_code=code, service_message="Rate exceeded", http_status_code=400)


def test_iam_access_denied_fails_for_good_with_the_aws_code(stubbed: Callable[[str], Stubber]) -> None:
    deny(stubbed("iam"), "list_saml_providers")

    with pytest.raises(PermanentError) as raised:
        iam_step.iam(context("iam", ONE_ROLE))

    assert raised.value.code == "AccessDenied"
    assert raised.value.message == "ListSAMLProviders: AccessDenied: no"


def test_iam_throttling_is_retried_and_a_new_account_creates_the_provider_first(
    stubbed: Callable[[str], Stubber],
) -> None:
    iam = stubbed("iam")
    iam.add_response("list_saml_providers", {"SAMLProviderList": []})
    iam.add_response(
        "create_saml_provider",
        {"SAMLProviderArn": f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/bespoke-idp"},
        {"Name": "bespoke-idp", "SAMLMetadataDocument": DEMO_IDP_METADATA, "Tags": ANY},
    )
    iam.add_response("get_account_authorization_details", {"RoleDetailList": [], "Policies": []})
    throttle(iam, "create_role")

    with pytest.raises(RetryableError) as raised:
        iam_step.iam(context("iam", ONE_ROLE))

    assert raised.value.code == "Throttling"


def test_a_trust_policy_iam_does_not_accept_yet_is_retried(stubbed: Callable[[str], Stubber]) -> None:
    """Right after the provider is created IAM may not know it: MalformedPolicyDocument settles."""
    iam = stubbed("iam")
    iam.add_response("list_saml_providers", {"SAMLProviderList": []})
    iam.add_response(
        "create_saml_provider", {"SAMLProviderArn": f"arn:aws:iam::{ACCOUNT_ID}:saml-provider/bespoke-idp"}
    )
    iam.add_response("get_account_authorization_details", {"RoleDetailList": [], "Policies": []})
    iam.add_client_error("create_role", service_error_code="MalformedPolicyDocument", http_status_code=400)

    with pytest.raises(RetryableError) as raised:
        iam_step.iam(context("iam", ONE_ROLE))

    assert raised.value.code == "MalformedPolicyDocument"


def test_cloudtrail_creates_when_the_lookup_finds_nothing_and_retries_when_throttled(
    stubbed: Callable[[str], Stubber],
) -> None:
    cloudtrail = stubbed("cloudtrail")
    cloudtrail.add_client_error("get_trail", service_error_code="TrailNotFoundException", http_status_code=400)
    throttle(cloudtrail, "create_trail", "ThrottlingException")

    with pytest.raises(RetryableError) as raised:
        cloudtrail_step.cloudtrail(context("cloudtrail"))

    assert raised.value.code == "ThrottlingException"
    assert raised.value.message.startswith("CreateTrail: ThrottlingException")


def test_cloudtrail_access_denied_fails_for_good(stubbed: Callable[[str], Stubber]) -> None:
    deny(stubbed("cloudtrail"), "get_trail")

    with pytest.raises(PermanentError) as raised:
        cloudtrail_step.cloudtrail(context("cloudtrail"))

    assert raised.value.code == "AccessDenied"


def test_cloudtrail_refused_by_the_bucket_policy_fails_for_good(stubbed: Callable[[str], Stubber]) -> None:
    cloudtrail = stubbed("cloudtrail")
    cloudtrail.add_client_error("get_trail", service_error_code="TrailNotFoundException", http_status_code=400)
    cloudtrail.add_client_error(
        "create_trail", service_error_code="InsufficientS3BucketPolicyException", http_status_code=400
    )

    with pytest.raises(PermanentError) as raised:
        cloudtrail_step.cloudtrail(context("cloudtrail"))

    assert raised.value.code == "InsufficientS3BucketPolicyException"


def test_config_access_denied_on_the_service_linked_role_is_not_mistaken_for_it_existing(
    stubbed: Callable[[str], Stubber],
) -> None:
    deny(stubbed("iam"), "create_service_linked_role")

    with pytest.raises(PermanentError) as raised:
        config_step.config(context("config"))

    assert raised.value.code == "AccessDenied"


def test_config_goes_on_when_aws_says_the_service_linked_role_exists_and_retries_throttling(
    stubbed: Callable[[str], Stubber],
) -> None:
    stubbed("iam").add_client_error(
        "create_service_linked_role",
        service_error_code="InvalidInput",
        service_message="Service role name AWSServiceRoleForConfig has been taken in this account",
        http_status_code=400,
    )
    throttle(stubbed("config"), "describe_configuration_recorders", "ThrottlingException")

    with pytest.raises(RetryableError) as raised:
        config_step.config(context("config"))

    assert raised.value.code == "ThrottlingException"


def test_config_retries_while_a_new_service_linked_role_is_not_usable_yet(stubbed: Callable[[str], Stubber]) -> None:
    config = stubbed("config")
    config.add_response("describe_configuration_recorders", {"ConfigurationRecorders": []})
    config.add_client_error("put_configuration_recorder", service_error_code="InvalidRoleException")

    with pytest.raises(RetryableError) as raised:
        config_step.config(context("config", {"create_service_linked_role": False}))

    assert raised.value.code == "InvalidRoleException"


def test_support_throttling_is_retried_and_a_missing_support_plan_fails_for_good(
    stubbed: Callable[[str], Stubber],
) -> None:
    support = stubbed("support")
    throttle(support, "describe_cases", "ThrottlingException")
    with pytest.raises(RetryableError):
        support_step.support(context("support"))

    support.add_response("describe_cases", {"cases": []})
    support.add_client_error("create_case", service_error_code="SubscriptionRequiredException")
    with pytest.raises(PermanentError) as raised:
        support_step.support(context("support"))

    assert raised.value.code == "SubscriptionRequiredException"


def test_read_back_raises_step_errors_rather_than_reporting_problems(stubbed: Callable[[str], Stubber]) -> None:
    deny(stubbed("cloudtrail"), "get_trail")

    with pytest.raises(StepError) as raised:
        baseline.read_back(payer_settings=PAYER_SETTINGS, account_id=ACCOUNT_ID, expectations={"cloudtrail": {}})

    assert (raised.value.code, raised.value.retryable) == ("AccessDenied", False)
