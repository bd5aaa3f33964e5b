"""One analysis as a FHIR R4 Bundle: an Observation per finding and a DiagnosticReport that
references them and the report page. Units are UCUM; SNOMED CT codes where they exist (the
finding, present or absent, the body site), this service's own code system for the rest."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from vision.clinical.words import summary_text
from vision.schema import AnalysisResult

SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
MEASURES = "https://clonus.dev/fhir/CodeSystem/measures"
VERDICTS = "https://clonus.dev/fhir/CodeSystem/quality-verdict"
CLONUS = {"system": SNOMED, "code": "39575007", "display": "Clonus (finding)"}
PRESENT = {"system": SNOMED, "code": "52101004", "display": "Present (qualifier value)"}
ABSENT = {"system": SNOMED, "code": "2667000", "display": "Absent (qualifier value)"}
SITES = {"ankle": ("344001", "Ankle region structure"),
         "knee": ("72696002", "Knee region structure"),
         "wrist": ("74670003", "Wrist region structure"),
         "jaw": ("661005", "Jaw region structure")}  # fmt: skip
EXAM = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "exam"}]}


def _concept(coding: dict[str, str]) -> dict[str, Any]:
    return {"coding": [coding], "text": coding["display"]}


def _measure(code: str, display: str) -> dict[str, Any]:
    return _concept({"system": MEASURES, "code": code, "display": display})


def _quantity(value: float, unit: str, ucum: str) -> dict[str, Any]:
    return {"value": round(float(value), 4), "unit": unit, "system": UCUM, "code": ucum}


class _Builder:
    """Entries with stable ids (the same analysis gives the same bundle)."""

    def __init__(self, analysis_id: str, subject: str | None, when: str) -> None:
        self.analysis_id, self.when, self.entries = analysis_id, when, []
        self.common: dict[str, Any] = {"subject": {"reference": subject}} if subject else {}

    def url(self, name: str) -> str:
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'clonus:{self.analysis_id}:{name}')}"

    def add(self, name: str, resource: dict[str, Any]) -> str:
        url = self.url(name)
        self.entries.append({"fullUrl": url, "resource": {"id": url.rsplit(":", 1)[1], **resource}})
        return url

    def observation(self, name: str, code: dict[str, Any], site: dict | None, **value: Any) -> str:
        body = {"resourceType": "Observation", "status": "final", "category": [EXAM], "code": code,
                **self.common, "effectiveDateTime": self.when, **value}  # fmt: skip
        if site:
            body["bodySite"] = site
        return self.add(name, body)


def _measured(result: AnalysisResult) -> list[tuple[str, str, dict[str, Any]]]:
    """(code, display, value) of each figure the result has."""
    r, out = result, []
    if r.clonus_detected:
        out += [("frequency", "Clonus beat frequency",
                 {"valueQuantity": _quantity(r.frequency_hz, "Hz", "Hz")}),
                ("beat-count", "Clonus beats in the main episode",
                 {"valueQuantity": _quantity(r.beat_count, "beats", "{beats}")}),
                ("sustained", "Sustained clonus (10 beats or more)",
                 {"valueBoolean": bool(r.sustained)})]  # fmt: skip
    grades = (("scats-clonus", "SCATS clonus score (0-3)", r.grades.scats_clonus),
              ("tardieu", "Tardieu scale grade (0-5)", r.grades.tardieu))  # fmt: skip
    out += [(code, display, {"valueInteger": int(g)}) for code, display, g in grades if g is not None]
    return out


def _findings(b: _Builder, result: AnalysisResult, site: dict | None) -> list[str]:
    presence = _concept(PRESENT if result.clonus_detected else ABSENT)
    urls = [b.observation("clonus", _concept(CLONUS), site, valueCodeableConcept=presence)]
    for code, display, value in _measured(result):
        urls.append(b.observation(code, _measure(code, display), site, **value))
    return urls


def _quality(b: _Builder, result: AnalysisResult) -> str:
    verdict = result.quality.verdict
    value = _concept({"system": VERDICTS, "code": verdict, "display": f"Quality: {verdict}"})
    extra: dict[str, Any] = {"valueCodeableConcept": value}
    if result.quality.issues:
        extra["note"] = [{"text": issue} for issue in result.quality.issues]
    if result.confidence is not None:
        extra["component"] = [{"code": _measure("confidence", "Confidence of the finding (0-1)"),
                               "valueQuantity": _quantity(result.confidence, "1", "1")}]  # fmt: skip
    return b.observation("quality", _measure("quality", "Recording and analysis quality"), None, **extra)


def bundle(analysis_id: str, result: dict | None, error: dict | None, subject: str | None,
           created_at: datetime, report_url: str | None) -> dict[str, Any]:  # fmt: skip
    """The Bundle (type collection) of a finished analysis."""
    b = _Builder(analysis_id, subject, created_at.isoformat())
    report: dict[str, Any] = {"resourceType": "DiagnosticReport", "code": _measure("clonus-video-analysis",
                              "Clonus measured from a video of the exam"), **b.common,
                              "effectiveDateTime": b.when}  # fmt: skip
    if result is None:  # failed: nothing was measured
        report.update(status="cancelled", conclusion=(error or {}).get("detail", "the analysis failed"))
    else:
        parsed = AnalysisResult.model_validate(result)
        site_code = SITES.get(parsed.site or "")
        site = (
            _concept({"system": SNOMED, "code": site_code[0], "display": site_code[1]}) if site_code else None
        )
        refs = [*_findings(b, parsed, site), _quality(b, parsed)]
        # Anything short of a good verdict asks for a clinician's review: not final.
        report.update(status="final" if parsed.quality.verdict == "good" else "preliminary",
                      result=[{"reference": r} for r in refs], conclusion=summary_text(parsed))  # fmt: skip
        if parsed.clonus_detected:
            report["conclusionCode"] = [_concept(CLONUS)]
    if report_url:
        report["presentedForm"] = [{"contentType": "text/html", "url": report_url, "title": "Report page"}]
    b.add("report", report)
    return {"resourceType": "Bundle", "type": "collection", "timestamp": b.when,
            "identifier": {"system": "https://clonus.dev/analyses", "value": analysis_id},
            "entry": [b.entries[-1], *b.entries[:-1]]}  # fmt: skip
