"""Issue 28 item 3: the analysis as a FHIR R4 Bundle for the chart, validated by fhir.resources
(its R4B models: R4's Observation, DiagnosticReport and Bundle, unchanged in R4B)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation

from service.analyses import fhir
from service.analyses.service import fhir_bundle
from service.core.db import Analysis
from service.core.problems import ProblemError
from tests.e2e.conftest import api_key, upload, wait_done

MODELS = {"Observation": Observation, "DiagnosticReport": DiagnosticReport}
# The models check structure and types, not the required value sets: these are checked here.
STATUSES = {"Observation": {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                            "entered-in-error", "unknown"},
            "DiagnosticReport": {"registered", "partial", "preliminary", "final", "amended", "corrected",
                                 "appended", "cancelled", "entered-in-error", "unknown"}}  # fmt: skip
SUBJECT = "Patient/8e1f2a-77"


def _validated(body: dict) -> tuple[dict, dict[str, dict]]:
    """The bundle validated, whole and entry by entry; its report and its observations by code."""
    Bundle.model_validate(body)
    assert body["type"] == "collection"
    report, observations = None, {}
    for entry in body["entry"]:
        resource = entry["resource"]
        MODELS[resource["resourceType"]].model_validate(resource)
        assert resource["status"] in STATUSES[resource["resourceType"]]
        if resource["resourceType"] == "DiagnosticReport":
            report = resource
        else:
            observations[resource["code"]["coding"][0]["code"]] = entry
    return report, observations


def _analyzed(client, headers, name: str, **form) -> tuple[dict, dict]:
    analysis_id = upload(client, headers, name=name, **form).json()["id"]
    done = wait_done(client, headers, analysis_id)
    assert done["status"] == "succeeded"
    r = client.get(f"/v1/analyses/{analysis_id}/fhir", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    return done, r.json()


def test_the_bundle_carries_the_result_s_figures(client, env):
    headers, _ = api_key(env, "clinic")
    done, body = _analyzed(client, headers, "ankle_clonus.mp4", subject=SUBJECT)
    result = done["result"]
    report, obs = _validated(body)
    assert done["subject"] == SUBJECT
    clonus = obs[fhir.CLONUS["code"]]["resource"]
    assert clonus["valueCodeableConcept"]["coding"][0]["code"] == fhir.PRESENT["code"]
    assert clonus["bodySite"]["coding"][0]["code"] == fhir.SITES["ankle"][0]
    frequency = obs["frequency"]["resource"]["valueQuantity"]
    assert frequency["value"] == pytest.approx(result["frequency_hz"], abs=1e-4)
    assert (frequency["system"], frequency["code"]) == (fhir.UCUM, "Hz")
    assert obs["beat-count"]["resource"]["valueQuantity"]["value"] == result["beat_count"]
    assert obs["sustained"]["resource"]["valueBoolean"] is result["sustained"]
    assert obs["scats-clonus"]["resource"]["valueInteger"] == result["grades"]["scats_clonus"]
    assert obs["tardieu"]["resource"]["valueInteger"] == result["grades"]["tardieu"]
    quality = obs["quality"]["resource"]
    assert quality["valueCodeableConcept"]["coding"][0]["code"] == result["quality"]["verdict"]
    assert {r["reference"] for r in report["result"]} == {e["fullUrl"] for e in obs.values()}
    assert {e["resource"]["subject"]["reference"] for e in obs.values()} == {SUBJECT}
    assert report["subject"]["reference"] == SUBJECT
    assert report["status"] == ("final" if result["quality"]["verdict"] == "good" else "preliminary")
    page = client.get(report["presentedForm"][0]["url"].replace("http://testserver", ""))
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]  # a signed link: no key
    again = client.get(f"/v1/analyses/{done['id']}/fhir", headers=headers).json()
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in body["entry"]]


def test_no_clonus_is_an_absent_finding_with_no_figures(client, env):
    headers, _ = api_key(env, "clinic")
    done, body = _analyzed(client, headers, "ankle_still_handheld.mp4")
    _, obs = _validated(body)
    assert done["result"]["clonus_detected"] is False
    clonus = obs[fhir.CLONUS["code"]]["resource"]
    assert clonus["valueCodeableConcept"]["coding"][0]["code"] == fhir.ABSENT["code"]
    assert "frequency" not in obs and "beat-count" not in obs
    assert "subject" not in clonus  # none was given


NOT_OPAQUE = ["John Smith", "Patient/John Smith", "Smith, John", "Patient/" + "a" * 65]


@pytest.mark.parametrize("subject", NOT_OPAQUE)
def test_a_subject_is_an_opaque_reference_never_a_name(client, env, subject):
    headers, _ = api_key(env, "clinic")
    r = upload(client, headers, subject=subject)
    assert r.status_code == 422
    assert r.json()["type"].endswith(("/invalid-subject", "/invalid-request"))


def test_a_failed_analysis_is_a_cancelled_report():
    body = fhir.bundle("a1", None, {"detail": "the video is truncated"}, SUBJECT, datetime.now(UTC), None)
    report, obs = _validated(body)
    assert report["status"] == "cancelled" and report["conclusion"] == "the video is truncated"
    assert obs == {}


def test_an_unfinished_analysis_has_no_bundle_yet(env):
    row = Analysis(id="a2", key_id=1, status="running", site="ankle", created_at=datetime.now(UTC))
    with pytest.raises(ProblemError) as caught:
        fhir_bundle(row, env, "http://testserver/")
    assert caught.value.status == 409
