"""The boundary where the Kubernetes client's exceptions become spin errors (no cluster needed).

Every exception the client raises maps to a KubeApiError with the Status reason
and code and a hint; tokens and object data in the raw exception never leak.
"""

from __future__ import annotations

import json
import socket

import pytest
import urllib3.exceptions as u3
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from spin_gateway.backends.kubernetes import KubernetesBackend, api_error, parse_since
from spin_gateway.vocabulary.errors import ForwardError, KubeApiError, UsageError


def status_exception(code: int, reason: str, message: str, causes=None) -> ApiException:
    exc = ApiException(status=code, reason=reason)
    exc.body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                           "reason": reason, "code": code, "details": {"causes": causes or []}})
    exc.headers = {"Authorization": "Bearer s3cr3t-token"}
    return exc


@pytest.mark.parametrize("code,reason,message,hint_word", [
    (401, "Unauthorized", "Unauthorized", "credentials"),
    (403, "Forbidden", 'deployments.apps is forbidden: User "system:serviceaccount:spin-system:spin-gateway" '
                       'cannot delete resource "deployments" in API group "apps"', "ClusterRole"),
    (403, "Forbidden", 'unable to create new content in namespace p1 because it is being terminated', "being removed"),
    (403, "Forbidden", 'pods "x" is forbidden: exceeded quota: q, requested: pods=1', "quota"),
    (404, "NotFound", 'deployments.apps "web" not found', "does not exist"),
    (409, "Conflict", "the object has been modified", "again"),
    (422, "Invalid", 'Deployment.apps "web" is invalid', "validation"),
    (429, "TooManyRequests", "too many requests", "overloaded"),
    (500, "InternalError", "etcdserver: request timed out", "overloaded"),
    (503, "ServiceUnavailable", "the server is currently unable to handle the request", "overloaded"),
])
def test_every_status_becomes_a_kube_api_error_with_reason_code_and_hint(code, reason, message, hint_word):
    error = api_error(status_exception(code, reason, message), "apply Deployment/web")
    assert isinstance(error, KubeApiError) and isinstance(error, ForwardError)
    assert (error.status, error.reason) == (code, reason)
    assert error.message == f"Kubernetes refused to apply Deployment/web: {message}"
    assert hint_word in error.hint
    assert error.to_body()["data"] == {"status": code, "reason": reason}


def test_invalid_names_the_fields_the_server_refused():
    error = api_error(status_exception(422, "Invalid", 'Service "web" is invalid', causes=[
        {"field": "spec.ports[0].port", "message": "Invalid value: 0: must be between 1 and 65535"}]), "apply Service/web")
    assert "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535" in error.message


@pytest.mark.parametrize("exc,reason", [
    (u3.ReadTimeoutError(None, "/api", "read timed out"), "Timeout"),
    (u3.ConnectTimeoutError("connect timed out"), "Timeout"),
    (u3.MaxRetryError(None, "/api", u3.NewConnectionError(None, "refused")), "Unreachable"),
    (u3.ProtocolError("connection aborted"), "Unreachable"),
    (ConnectionRefusedError(111, "refused"), "Unreachable"),
    (ApiException(status=0, reason="SSLError\ncertificate verify failed"), "Unreachable"),
    (ConfigException("Invalid kube-config file. No configuration found."), "ConfigError"),
])
def test_transport_and_configuration_errors_become_kube_api_errors(exc, reason):
    error = api_error(exc, "list namespaces")
    assert isinstance(error, KubeApiError)
    assert error.reason == reason and error.status is None
    assert error.hint


def test_the_raw_exceptions_headers_and_bodies_never_reach_the_message():
    exc = ApiException(status=500, reason="Internal Server Error")
    exc.body = 'not json: {"data": {"password": "czNjcjN0"}}'
    exc.headers = {"Authorization": "Bearer s3cr3t-token"}
    error = api_error(exc, "apply Secret/db")
    text = json.dumps(error.to_body())
    assert "s3cr3t" not in text and "czNjcjN0" not in text
    assert error.message == "Kubernetes refused to apply Secret/db: HTTP 500 Internal Server Error"


def test_an_api_server_that_is_not_there_is_a_clear_error_not_a_hang(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    backend = KubernetesBackend(kubeconfig=str(config))
    backend.api.attempts = 2
    with pytest.raises(KubeApiError) as info:
        backend.list_projects()
    assert info.value.reason == "Unreachable"
    assert "cannot reach the Kubernetes API (list namespaces)" in info.value.message
    assert "--kubeconfig" in info.value.hint


def test_a_kubeconfig_that_does_not_exist_or_lacks_the_context_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        KubernetesBackend(kubeconfig=str(tmp_path / "missing"))
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}))
    with pytest.raises(UsageError, match="context nope"):
        KubernetesBackend(kubeconfig=str(config), context="nope")


@pytest.mark.parametrize("since,query", [
    ("10s", {"sinceSeconds": 10}), ("5m", {"sinceSeconds": 300}), ("1h30m", {"sinceSeconds": 5400}),
    ("2024-05-01T10:00:00Z", {"sinceTime": "2024-05-01T10:00:00Z"}),
    ("2024-05-01T12:00:00+02:00", {"sinceTime": "2024-05-01T10:00:00Z"}), (None, {}),
])
def test_since_is_a_duration_or_a_time(since, query):
    assert parse_since(since) == query


def test_since_that_is_neither_says_what_to_write():
    with pytest.raises(UsageError) as info:
        parse_since("yesterday")
    assert "10m" in info.value.hint


def test_an_invalid_object_dump_in_the_servers_message_is_cut_to_the_field_and_its_problem():
    dump = 'Job.batch "reduce" is invalid: spec.template: Invalid value: core.PodTemplateSpec{' + "x" * 2000 + \
        '}: field is immutable'
    exc = status_exception(422, "Invalid", dump, causes=[
        {"field": "spec.template", "message": "Invalid value: core.PodTemplateSpec{" + "x" * 2000 + "}: field is immutable"}])
    exc.body = exc.body.replace('"causes"', '"kind": "job", "name": "reduce", "causes"')
    error = api_error(exc, "apply Job/reduce")
    assert error.message == 'Kubernetes refused to apply Job/reduce: Job "reduce" is invalid: spec.template: field is immutable'
