"""Issue 28 item 1: the OpenAPI document is a typed contract. A client generated from the live
document (openapi-python-client) drives the API end to end; schemathesis tests the API from its
own schema (no 500, no response outside the schema)."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.core.problems import MEDIA_TYPE, problem_codes
from tests.e2e.conftest import api_key
from tests.e2e.test_faults_and_hostile_input import _server
from tests.paths import ROOT, SAMPLES

SERVICE = ROOT / "service"
# tus's PATCH body is raw bytes under its own media type.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
EXAMPLES = 12  # per operation: bounded, so that make test stays minutes
_PROBLEM_CALLS = {"ProblemError", "problem", "problem_response"}


def _document(port: int) -> dict:
    return httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).json()


@pytest.fixture
def live(env):
    """A real server on the embedded default (its own worker pool), and a key for it."""
    headers, _ = api_key(env, "clinic")
    with _server() as (_, port):
        yield port, headers


def test_result_and_problems_are_typed(client):
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    result = schemas["AnalysisOut"]["properties"]["result"]
    assert {"$ref": "#/components/schemas/AnalysisResult"} in result["anyOf"]
    assert schemas["Quality"]["properties"]["verdict"]["enum"] == ["good", "review", "failed"]
    statuses = schemas["AnalysisOut"]["properties"]["status"]["enum"]
    assert statuses == ["queued", "running", "succeeded", "failed"]
    event = doc["webhooks"]["analysis-ended"]["post"]["requestBody"]["content"]["application/json"]
    assert event["schema"] == {"$ref": "#/components/schemas/AnalysisEvent"}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            errors = {s: r for s, r in op["responses"].items() if int(s) >= 400}
            assert "500" in errors, (method, path)
            for status, response in errors.items():
                content = response["content"]
                assert list(content) == [MEDIA_TYPE], (method, path, status)
                assert content[MEDIA_TYPE]["schema"] == {"$ref": "#/components/schemas/Problem"}
                assert content[MEDIA_TYPE]["examples"], (method, path, status)
    upload = doc["paths"]["/v1/analyses"]["post"]["responses"]
    assert {"401", "413", "415", "422"} <= set(upload)
    assert "frame-too-small" in upload["422"]["content"][MEDIA_TYPE]["examples"]


def _literal_problems(path: Path) -> set[tuple[int, str]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        name = getattr(node, "func", None) and getattr(node.func, "id", getattr(node.func, "attr", None))
        if isinstance(node, ast.Call) and name in _PROBLEM_CALLS:
            args = node.args[:2]
            if len(args) == 2 and all(isinstance(a, ast.Constant) for a in args):
                found.add((args[0].value, args[1].value))
    return found


def test_every_problem_the_service_sends_is_documented():
    documented = problem_codes()
    sent = set().union(*(_literal_problems(p) for p in SERVICE.rglob("*.py")))
    assert len(sent) > 15  # the scan sees the calls
    missing = sorted((status, code) for status, code in sent if code not in documented.get(status, {}))
    assert not missing


def _generate_client(doc: dict, where: Path):
    """``openapi-python-client`` on the document; the package, imported."""
    (where / "openapi.json").write_text(json.dumps(doc))
    (where / "config.yaml").write_text("post_hooks: []\npackage_name_override: clonus_client\n")
    subprocess.run([sys.executable, "-m", "openapi_python_client", "generate", "--path", "openapi.json",
                    "--meta", "none", "--output-path", "clonus_client", "--config", "config.yaml"],
                   cwd=where, check=True, capture_output=True, timeout=120)  # fmt: skip
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module("clonus_client")
    finally:
        sys.path.remove(str(where))


def _upload(api, path: Path, content: bytes | None = None):
    from io import BytesIO

    from clonus_client.api.analyses import create_analysis
    from clonus_client.models import BodyCreateAnalysis, BodyCreateAnalysisSite
    from clonus_client.types import File

    payload = BytesIO(content if content is not None else path.read_bytes())
    body = BodyCreateAnalysis(video=File(payload=payload, file_name=path.name, mime_type="video/mp4"),
                              site=BodyCreateAnalysisSite.ANKLE)  # fmt: skip
    return create_analysis.sync(client=api, body=body)


def test_a_generated_client_drives_the_api(live, tmp_path):
    port, headers = live
    package = _generate_client(_document(port), tmp_path)
    try:
        from clonus_client import AuthenticatedClient
        from clonus_client.api.analyses import get_analysis
        from clonus_client.models import AnalysisOutStatus, Problem, QualityVerdict

        assert package.__name__ == "clonus_client"
        token = headers["Authorization"].split()[1]
        api = AuthenticatedClient(base_url=f"http://127.0.0.1:{port}", token=token,
                                  raise_on_unexpected_status=True)  # fmt: skip
        accepted = _upload(api, SAMPLES / "ankle_clonus.mp4")
        deadline = time.monotonic() + 180
        while (out := get_analysis.sync(accepted.id, client=api)).status not in (
            AnalysisOutStatus.SUCCEEDED, AnalysisOutStatus.FAILED):  # fmt: skip
            assert time.monotonic() < deadline
            time.sleep(0.5)
        truth = json.loads((SAMPLES / "ankle_clonus.truth.json").read_text())["truth"]
        assert out.status is AnalysisOutStatus.SUCCEEDED
        assert out.result.clonus_detected is True
        assert abs(out.result.frequency_hz - truth["frequency_hz"]) < 0.3
        assert isinstance(out.result.quality.verdict, QualityVerdict)
        assert out.links.report.startswith(f"/v1/analyses/{accepted.id}/report?")
        refused = _upload(api, SAMPLES / "notes.mp4", content=b"not a video at all " * 20)
        assert isinstance(refused, Problem)
        assert refused.status == 415 and refused.type_.endswith("/not-a-video")
        missing = get_analysis.sync("no-such-id", client=api)
        assert isinstance(missing, Problem) and missing.status == 404
    finally:
        for name in [m for m in sys.modules if m == "clonus_client" or m.startswith("clonus_client.")]:
            del sys.modules[name]


def _check_operation(operation, headers: dict[str, str]) -> None:
    # Where a schema-valid request need not be accepted (the other checks still hold these
    # operations to the document): any bytes are a valid upload and most are no video (415,
    # 422), any size a valid Upload-Length (0 is no video, a large one too large); a cursor is
    # an opaque token only the list hands out (422 for any other).
    takes_any = operation.label in ("POST /v1/analyses", "GET /v1/analyses", "POST /v1/uploads")
    excluded = [positive_data_acceptance] if takes_any else []

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(case) -> None:
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    check()


def test_the_api_keeps_its_schema(live):
    """Every operation, with bounded generated requests (valid and not), against a real
    server: no 500, every response as the document says (status, media type, body, headers),
    and auth not ignored."""
    port, headers = live
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures = {}
    for operation in operations:
        try:
            _check_operation(operation, headers)
        except Exception as exc:  # each operation's own failure, reported together
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
