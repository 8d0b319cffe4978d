"""The OpenAPI document is served, valid, complete, and its docs page is self-contained."""

import json
import re
from typing import Any

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import get_resolver
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from tests.architecture.test_scopes import METHODS, _endpoints

pytestmark = pytest.mark.django_db

ERROR_REF = "#/components/schemas/Error"
LEGACY_ERROR_REF = "#/components/schemas/LegacyError"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    response = APIClient().get("/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200, response.content
    document: dict[str, Any] = json.loads(response.content)
    return document


def _v1_operations() -> set[tuple[str, str]]:
    operations = set()
    for route, view in _endpoints(get_resolver().url_patterns):
        if not route.startswith("v1/") or route in ("v1/schema", "v1/docs"):
            continue
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        operations |= {(path, method) for method in METHODS if hasattr(view, method)}
    return operations


def test_the_schema_is_served_as_json_and_yaml_without_a_token() -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")  # ignored: documentation is public

    as_json = api.get("/v1/schema?format=json")
    as_yaml = api.get("/v1/schema")

    assert as_json.status_code == 200
    assert as_json["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert as_yaml.status_code == 200
    assert as_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(as_yaml.content) == json.loads(as_json.content)


def test_the_schema_is_valid_openapi_3(schema: dict[str, Any]) -> None:
    validate(schema)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Bespoke"
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API client's token (`bsk_...`).",
    }


def test_every_v1_route_and_method_is_documented(schema: dict[str, Any]) -> None:
    expected = _v1_operations()
    documented = {
        (path, method) for path, item in schema["paths"].items() if path.startswith("/v1/") for method in item
    }

    assert len(expected) >= 19
    assert documented == expected


def test_the_legacy_facade_is_documented_under_its_tag_with_its_own_errors(schema: dict[str, Any]) -> None:
    post = schema["paths"]["/accounts"]["post"]
    status = schema["paths"]["/requeststatus/{request_id}"]["get"]

    for operation in (post, status):
        assert operation["tags"] == ["legacy"]
        assert operation["responses"]["403"]["content"]["application/json"]["schema"]["$ref"] == LEGACY_ERROR_REF
        assert operation["security"] == [{"sigv4": []}]
    assert set(post["responses"]) == {"202", "400", "403", "409", "413", "429"}
    assert set(status["responses"]) == {"200", "400", "403", "404", "429"}


# The integration steps' callbacks: their token authenticates them (a forged one is a 404).
CALLBACKS = "/v1/steps/"


def test_every_error_response_is_the_one_error_shape(schema: dict[str, Any]) -> None:
    for path, item in schema["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in item.items():
            errors = {code: r for code, r in operation["responses"].items() if code.startswith(("4", "5"))}
            if not path.startswith(CALLBACKS):  # authenticated by their token, not an API client's
                assert {"401", "429"} <= set(errors), (method, path)
            for code, response in errors.items():
                assert response["content"]["application/json"]["schema"]["$ref"] == ERROR_REF, (method, path, code)
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "extra", "message"]


def test_each_operation_names_its_scopes_and_only_scoped_ones_answer_403(schema: dict[str, Any]) -> None:
    create = schema["paths"]["/v1/account-requests"]["post"]
    listing = schema["paths"]["/v1/account-requests"]["get"]
    tokens = schema["paths"]["/v1/tokens"]["get"]

    assert "**Scopes:** `requests:write`." in create["description"]
    assert "**Scopes:** `requests:read`." in listing["description"]
    assert "403" in create["responses"]
    assert "403" in listing["responses"]
    assert "any client's token" in tokens["description"]
    assert "403" not in tokens["responses"]
    assert create["security"] == [{"bearerAuth": []}]


def test_request_bodies_and_answers_are_documented(schema: dict[str, Any]) -> None:
    create = schema["paths"]["/v1/account-requests"]["post"]
    body = create["requestBody"]["content"]["application/json"]
    plan = "#/components/schemas/AccountRequestPlan"

    assert body["schema"]["$ref"] == "#/components/schemas/AccountRequestInputRequest"
    assert next(iter(body["examples"].values()))["value"]["payer"] == "demo"
    assert create["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "AccountRequestAccepted"
    )
    assert create["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == plan
    assert {p["name"] for p in create["parameters"]} == {"dry_run", "Idempotency-Key"}
    listing = schema["paths"]["/v1/account-requests"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"status", "limit", "offset"}
    assert set(schema["paths"]["/v1/webhooks/{subscription_id}"]["delete"]["responses"]) >= {"204", "404"}


def test_the_docs_page_renders_and_loads_only_local_assets() -> None:
    response = APIClient().get("/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    urls += re.findall(r"""["']([^"'\s]+\.(?:js|css|png))["']""", html)
    assert any("swagger-ui-bundle.js" in url for url in urls), urls
    assert "/v1/schema" in html
    assert not re.search(r"https?://", html), "the docs page must not load from another host"
    for url in urls:
        assert url.startswith("/static/") or url.startswith("/v1/"), url
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), f"{url} is not a static file"


def test_the_schema_generates_without_a_warning(tmp_path: Any) -> None:
    """A view the generator can't read (no ``extend_schema``) fails here, not silently."""
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))
