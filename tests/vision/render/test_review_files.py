"""What a clinician reviews (#7): the overlay video, the plots and the report page, de-identified.

The source clip is a wide view of a beating ankle with a person's face in view, an audio track
and identifying container tags (GPS, creation time, a title). An independent face detector
(OpenCV's Viola–Jones cascade, not the MediaPipe models the overlay uses) finds the face in the
source and must not find it in the overlay.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import httpx
import numpy as np
import pytest

from models.registry import model_path
from service.cli import main
from service.core.config import Settings
from service.core.db import migrate, session_factory
from service.keys.service import create_key
from tests.paths import ROOT
from tools.clips import ClipSpec, write_clip
from tools.waveform import ClonusSpec
from vision.locate.landmarks import EYES, FaceLandmarker

ARTIFACTS = ROOT / "data" / "test-artifacts"
IDENTIFYING_TAGS = (
    "creation_time",
    "location",
    "location-eng",
    "title",
    "com.apple.quicktime.location.ISO6709",
)


def _with_audio_and_tags(src: Path, dst: Path) -> None:
    """Remux ``src`` adding a silent AAC track and identifying tags, as a phone's file has."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "use_metadata_tags"}) as out:
        out.metadata.update({"creation_time": "2026-11-20T10:00:00Z", "location": "+37.7749-122.4194/",
                             "title": "Jane Doe, ankle exam"})  # fmt: skip
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        aout = out.add_stream("aac", rate=44100)
        aout.layout = "mono"
        for pkt in inp.demux(vin):
            if pkt.dts is not None:
                pkt.stream = vout
                out.mux(pkt)
        for i in range(int(3.0 * 44100 / 1024)):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            for p in aout.encode(frame):
                out.mux(p)
        for p in aout.encode():
            out.mux(p)


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


def _faces(image_rgb: np.ndarray) -> np.ndarray:
    cascade = cv2.CascadeClassifier(str(model_path("haar_frontalface")))
    gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    return np.asarray(cascade.detectMultiScale(gray, 1.1, 4, minSize=(24, 24))).reshape(-1, 4)


@pytest.fixture(scope="module")
def exam(tmp_path_factory):
    """A phone-like exam file and the CLI's --out folder for it."""
    folder = tmp_path_factory.mktemp("review")
    plain = folder / "plain.mp4"
    beating = ClonusSpec(frequency_hz=6.0, beats=10, onset_s=0.5, seed=3)
    truth = write_clip(ClipSpec(site="ankle", framing="wide", face="grace_hopper", width=640, height=480,
                                duration_s=3.0, clonus=beating), plain)  # fmt: skip
    source = folder / "exam.mp4"
    _with_audio_and_tags(plain, source)
    out = folder / "out"
    assert main(["analyze", str(source), "--site", "ankle", "--out", str(out)]) == 0
    return source, out, truth


def test_out_folder_holds_every_artifact(exam):
    _, out, truth = exam
    names = {p.name for p in out.iterdir()}
    assert names == {"result.json", "overlay.mp4", "displacement.png", "spectrum.png", "spectrogram.png",
                     "report.html"}  # fmt: skip
    result = json.loads((out / "result.json").read_text())
    assert result["clonus_detected"] is True
    assert abs(result["frequency_hz"] - truth["frequency_hz"]) < 0.15
    for name in ("displacement", "spectrum", "spectrogram"):
        image = cv2.imread(str(out / f"{name}.png"))
        assert image is not None and image.shape[1] >= 800 and image.std() > 10


def test_overlay_plays_in_browsers_and_keeps_every_frame(exam):
    source, out, _ = exam
    with av.open(str(source)) as c:
        assert len(c.streams.audio) == 1 and c.metadata.get("location")  # the source had both
    with av.open(str(out / "overlay.mp4")) as c:
        video = c.streams.video[0]
        assert video.codec_context.name == "h264" and video.codec_context.pix_fmt == "yuv420p"
        assert len(c.streams.audio) == 0 and len(c.streams) == 1
        tags = {**c.metadata, **video.metadata}
        assert not [t for t in tags if t.lower() in IDENTIFYING_TAGS], tags
        overlay_frames = sum(1 for _ in c.decode(video))
    assert overlay_frames == len(_frames(source))
    head = (out / "overlay.mp4").read_bytes()[:200_000]
    assert 0 <= head.find(b"moov") < head.find(b"mdat")  # fast start: the index comes first


def test_face_in_view_is_obscured_in_the_overlay(exam):
    source, out, _ = exam
    src, ovl = _frames(source), _frames(out / "overlay.mp4")
    picked = range(0, len(src), 6)
    found_in_source = sum(len(_faces(src[i])) > 0 for i in picked)
    assert found_in_source >= 0.8 * len(picked)  # the detector does see the face
    h, w = src[0].shape[:2]
    for i in picked:
        picture = ovl[i][: round(ovl[i].shape[1] * h / w)]  # the panel below is not the picture
        assert len(_faces(picture)) == 0, f"a face is recognizable in overlay frame {i}"


def test_keep_faces_leaves_them_for_a_clinics_own_use(exam, tmp_path):
    source, _, _ = exam
    assert main(["analyze", str(source), "--site", "ankle", "--out", str(tmp_path), "--keep-faces"]) == 0
    ovl = _frames(tmp_path / "overlay.mp4")
    assert sum(len(_faces(f)) > 0 for f in ovl[::6]) >= 0.8 * len(ovl[::6])


def test_jaw_overlay_blurs_the_eyes_keeps_the_jaw_sharp_and_the_report_gives_the_second_measure(tmp_path):
    clip = tmp_path / "jaw.mp4"
    write_clip(ClipSpec(site="jaw", framing="wide", width=480, height=560, duration_s=2.5,
                        clonus=ClonusSpec(frequency_hz=7.0, beats=8, onset_s=0.5, seed=2)), clip)  # fmt: skip
    assert main(["analyze", str(clip), "--site", "jaw", "--out", str(tmp_path / "o")]) == 0
    src, ovl = _frames(clip)[5], _frames(tmp_path / "o" / "overlay.mp4")[5]
    with FaceLandmarker(model_path("face_landmarker"), video=False) as lm:
        face = lm.detect(src)[0]
    scale = ovl.shape[1] / src.shape[1]

    def sharpness(image: np.ndarray, points: np.ndarray, s: float) -> float:
        (x0, y0), (x1, y1) = (points.min(axis=0) * s).astype(int), (points.max(axis=0) * s).astype(int)
        crop = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
        return float(cv2.Laplacian(crop, cv2.CV_32F).var())

    eyes = face.xy_px[list(EYES)]
    assert sharpness(ovl, eyes, scale) < 0.15 * sharpness(src, eyes, 1.0)
    chin = face.xy_px[[152, 148, 377]]
    chin = np.vstack([chin - 25, chin + 25])
    assert sharpness(ovl, chin, scale) > 0.3 * sharpness(src, chin, 1.0)
    # The face landmarks' own measure of the rate, in the report's words.
    second = json.loads((tmp_path / "o" / "result.json").read_text())["second_signal"]
    assert second["source"] == "face" and second["agrees"] is True
    assert html.escape(second["note"]) in (tmp_path / "o" / "report.html").read_text()


def test_report_page_has_the_result_in_clinical_words_and_loads_nothing_from_elsewhere(exam):
    _, out, _ = exam
    page = (out / "report.html").read_text()
    result = json.loads((out / "result.json").read_text())
    assert f"{result['beat_count']} beats at {result['frequency_hz']:.1f} Hz" in page
    assert f"{result['frequency_hz']:.2f} Hz" in page
    assert f"SCATS clonus grade</th><td>{result['grades']['scats_clonus']}:" in page
    assert f"{result['amplitude']['peak_to_peak_deg']:.1f}° peak to peak about the ankle" in page
    assert "Recording quality" in page and result["quality"]["verdict"] in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page
    assert "@media print" in page


# --- The report through the running service, in headless Chromium ------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served_report(exam, tmp_path_factory):
    """The service started as ``make run`` starts it; the exam uploaded; the signed report link."""
    source, _, _ = exam
    data = tmp_path_factory.mktemp("served")
    port = _free_port()
    env = {**os.environ, "CLONUS_DATA_DIR": str(data), "CLONUS_PORT": str(port), "CLONUS_WORKERS": "1"}
    settings = Settings(data_dir=data)
    migrate(settings.resolved_database_url)
    with session_factory(settings.resolved_database_url)() as s:
        _, key = create_key(s, "clinic")
    proc = subprocess.Popen([sys.executable, "-m", "service.serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            for _ in range(120):
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.25)
            auth = {"Authorization": f"Bearer {key}"}
            with source.open("rb") as f:
                created = http.post("/v1/analyses", headers=auth, data={"site": "ankle"},
                                    files={"video": ("exam.mp4", f, "video/mp4")})  # fmt: skip
            assert created.status_code == 202, created.text
            for _ in range(400):
                body = http.get(f"/v1/analyses/{created.json()['id']}", headers=auth).json()
                if body["status"] in ("succeeded", "failed"):
                    break
                time.sleep(0.3)
            assert body["status"] == "succeeded", body
            yield base, body, auth
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_signed_links_open_only_their_own_files(served_report):
    base, body, auth = served_report
    links = body["links"]
    assert set(links) == {"report", "overlay", "displacement", "spectrum", "spectrogram"}
    with httpx.Client(base_url=base, timeout=30) as http:
        page = http.get(links["report"])  # no API key: the link itself opens it
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        video = http.get(links["overlay"], headers={"Range": "bytes=0-99"})
        assert video.status_code == 206 and len(video.content) == 100
        forged = re.sub(r"sig=[0-9a-f]+", "sig=" + "0" * 64, links["report"])
        assert http.get(forged).status_code == 403
        other = links["report"].replace(body["id"], "00000000-0000-0000-0000-000000000000")
        assert http.get(other).status_code == 403
        assert http.get(f"/v1/analyses/{body['id']}/report").status_code == 401
        assert http.get(f"/v1/analyses/{body['id']}/report", headers=auth).status_code == 200


@pytest.fixture
def chromium(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1100,1500",
                f"--user-data-dir={tmp_path / 'chromium'}"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def _until(driver, script: str, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"never true: {script}")


def test_report_in_chromium_plays_the_video_and_the_chart_follows_it(served_report, chromium):
    base, body, _ = served_report
    result = body["result"]
    chromium.get(base + body["links"]["report"])
    text = chromium.find_element("tag name", "body").text
    assert f"{result['beat_count']} beats at {result['frequency_hz']:.1f} Hz" in text
    assert "SCATS clonus grade" in text and "Recording quality" in text
    _until(chromium, "const v = document.getElementById('overlay'); return v.readyState >= 2 && !v.error;")
    chromium.execute_script("document.getElementById('overlay').play();")
    _until(chromium, "return document.getElementById('overlay').currentTime > 0.5;")  # it plays
    chromium.execute_script("const v = document.getElementById('overlay'); v.pause(); v.currentTime = 2.0;")
    cursor_t = float(
        _until(
            chromium,
            """const v = document.getElementById('overlay');
        const t = document.getElementById('cursor').getAttribute('data-time');
        return !v.seeking && Math.abs(v.currentTime - 2.0) < 0.05 && t;""",
        )
    )
    assert cursor_t == pytest.approx(2.0, abs=0.05)
    x_at_2 = float(chromium.execute_script("return document.getElementById('cursor').getAttribute('x1');"))
    chromium.execute_script("const v = document.getElementById('overlay'); v.currentTime = 0.5;")
    _until(chromium, "return Math.abs(parseFloat(document.getElementById('cursor').getAttribute('data-time'))"
                     " - 0.5) < 0.05;")  # fmt: skip
    assert (
        float(chromium.execute_script("return document.getElementById('cursor').getAttribute('x1');"))
        < x_at_2
    )
    # A click on the chart at three quarters of its width seeks the video there.
    chromium.execute_script("""const c = document.getElementById('chart');
        const b = c.getBoundingClientRect();
        c.dispatchEvent(new MouseEvent('click', {clientX: b.left + 0.75 * b.width, clientY: b.top + 10,
                                                  bubbles: true}));""")
    duration = result["video"]["duration_s"]
    _until(
        chromium,
        f"return Math.abs(document.getElementById('overlay').currentTime - {0.75 * duration}) < 0.15;",
    )
    pdf = base64.b64decode(chromium.print_page())  # printable: the browser's own print to PDF
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report-print.pdf").write_bytes(pdf)
    chromium.execute_script("document.getElementById('chart').scrollIntoView({block: 'center'});")
    assert chromium.save_screenshot(str(ARTIFACTS / "report-chromium.png"))
