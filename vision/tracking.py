"""Find the body part and measure its motion to sub-pixel precision, camera motion removed.

Landmarks (MediaPipe) only place the region; pyramidal Lucas–Kanade optical flow on features
inside it measures the motion, minus the median flow of background features (the camera).
Where no landmark is found (a close-up of a foot), the region is where motion energy in the
clonus band concentrates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import signal

from vision.schema import Roi
from vision.video_io import Frame

_LK = dict(winSize=(21, 21), maxLevel=3,
           criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))  # fmt: skip
_FB_MAX_PX = 0.5  # forward–backward error above which a feature track is dropped
_MIN_FEATURES = 8


@dataclass
class MotionTrace:
    """Per-frame displacement of the part (camera removed), in pixels of the source video."""

    time_s: np.ndarray
    xy_px: np.ndarray  # (n, 2) cumulative displacement
    valid: np.ndarray  # (n,) the part was tracked in this frame
    camera_xy_px: np.ndarray  # (n, 2) cumulative camera motion that was removed
    feature_survival: float
    mean_brightness: np.ndarray  # (n,) whole-frame brightness (flicker, darkness)
    sharpness: np.ndarray  # (n,) variance of the Laplacian inside the region (blur)
    point_px: np.ndarray | None = None  # (n, 2) the moving part (median of its features); NaN: lost


def roi_to_px(roi: Roi, width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0 = int(roi.x * width), int(roi.y * height)
    x1 = min(width, int(round((roi.x + roi.w) * width)))
    y1 = min(height, int(round((roi.y + roi.h) * height)))
    return x0, y0, max(x0 + 4, x1), max(y0 + 4, y1)


def roi_from_points(points_px: np.ndarray, width: int, height: int, pad: float = 0.35) -> Roi:
    """A region around landmark points, padded by a fraction of its size."""
    x0, y0 = points_px.min(axis=0)
    x1, y1 = points_px.max(axis=0)
    size = max(x1 - x0, y1 - y0, 0.06 * max(width, height))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = size * (0.5 + pad)
    x0, x1 = np.clip([cx - half, cx + half], 0, width)
    y0, y1 = np.clip([cy - half, cy + half], 0, height)
    return Roi(x=x0 / width, y=y0 / height, w=max(1e-3, (x1 - x0) / width),
               h=max(1e-3, (y1 - y0) / height))  # fmt: skip


def band_energy_map(frames_gray: np.ndarray, time_s: np.ndarray, band_hz: tuple[float, float]) -> np.ndarray:
    """Per-pixel motion energy in the clonus band, (h, w), roughly in pixels².

    ``frames_gray`` is a small (n, h, w) uint8 stack. The variance of band-passed brightness is
    divided by the local gradient energy (brightness change ≈ gradient × motion), so strong
    edges moved a little by the camera do not outweigh low-contrast skin moved a lot.
    Whole-frame changes (flicker, exposure) are taken out by removing each frame's mean first.
    """
    n, h, w = frames_gray.shape
    fs = (n - 1) / max(1e-6, time_s[-1] - time_s[0])
    hi = min(band_hz[1], 0.45 * fs)
    sos = signal.butter(2, (band_hz[0], max(hi, band_hz[0] + 0.5)), btype="bandpass", fs=fs, output="sos")
    energy = np.zeros((h, w), np.float32)
    means = frames_gray.mean(axis=(1, 2), dtype=np.float32)[:, None, None]
    for r0 in range(0, h, 16):  # rows in chunks to bound memory
        rows = frames_gray[:, r0 : r0 + 16].astype(np.float32) - means
        energy[r0 : r0 + 16] = np.var(signal.sosfiltfilt(sos, rows, axis=0), axis=0)
    mean_frame = frames_gray.mean(axis=0, dtype=np.float32)
    gx = cv2.Sobel(mean_frame, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(mean_frame, cv2.CV_32F, 0, 1, ksize=3) / 8
    grad2 = cv2.blur(gx * gx + gy * gy, (3, 3))
    return energy / (grad2 + float(grad2.mean()) + 1.0)


def roi_from_energy(energy: np.ndarray) -> tuple[Roi, float]:
    """The blob where band energy concentrates (the oscillating part), and how much it stands
    out (ratio to the median block).
    """
    h, w = energy.shape
    block = max(4, min(h, w) // 10)
    energy = energy.copy()
    m = max(1, round(0.03 * min(h, w)))  # the outermost pixels: encoder and border artifacts
    floor = float(np.median(energy))
    energy[:m], energy[-m:], energy[:, :m], energy[:, -m:] = floor, floor, floor, floor
    pooled = cv2.blur(energy, (block, block))
    y, x = np.unravel_index(int(np.argmax(pooled)), pooled.shape)
    ratio = float(pooled[y, x] / (np.median(pooled) + 1e-9))
    floor = float(np.median(pooled))
    strong = (pooled >= floor + 0.4 * (pooled[y, x] - floor)).astype(np.uint8)
    _, labels = cv2.connectedComponents(strong)
    ys, xs = np.nonzero(labels == labels[y, x])
    pad = block
    x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + 1 + pad)
    y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + 1 + pad)
    return Roi(x=x0 / w, y=y0 / h, w=(x1 - x0) / w, h=(y1 - y0) / h), ratio


def _features(gray: np.ndarray, mask: np.ndarray, max_corners: int) -> np.ndarray | None:
    pts = cv2.goodFeaturesToTrack(gray, maxCorners=max_corners, qualityLevel=0.005,
                                  minDistance=3, mask=mask, blockSize=5)  # fmt: skip
    return pts


def _flow(prev: np.ndarray, cur: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Track points forward and back; keep those that return to where they started."""
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None, **_LK)
    back, st_b, _ = cv2.calcOpticalFlowPyrLK(cur, prev, nxt, None, **_LK)
    fb = np.linalg.norm((back - pts).reshape(-1, 2), axis=1)
    ok = (st.reshape(-1) == 1) & (st_b.reshape(-1) == 1) & (fb < _FB_MAX_PX)
    return nxt, ok


def _moving_steps(
    log: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[list[np.ndarray | None], np.ndarray]:
    """Per step, the median step of the features that move (the part), not of the still ones,
    and where those features are (median position; NaN where none was tracked).

    A region around a joint holds both the moving part and still skin or background. Each
    feature's mean squared step over its life says whether it belongs to the moving part;
    the median is then taken over those above a fraction of the strongest movers.
    """
    power: dict[int, list[float]] = {}
    for ids, steps, _ in log:
        for i, d2 in zip(ids.tolist(), (steps**2).sum(axis=1).tolist(), strict=True):
            power.setdefault(i, []).append(d2)
    energy = {i: float(np.mean(v)) for i, v in power.items() if len(v) >= 3}
    top = float(np.percentile(list(energy.values()), 95)) if energy else 0.0
    movers = {i for i, e in energy.items() if e >= 0.3 * top}
    out: list[np.ndarray | None] = []
    where = np.full((len(log), 2), np.nan)
    for n, (ids, steps, pts) in enumerate(log):
        if not len(steps):
            out.append(None)
            continue
        pick = np.array([i in movers for i in ids.tolist()])
        pick = pick if pick.sum() >= 2 else np.ones(len(ids), bool)
        out.append(np.median(steps[pick], axis=0))
        where[n] = np.median(pts[pick], axis=0)
    return out, where


def track_region(
    frames: Iterable[Frame],
    roi: Roi,
    *,
    scale: float = 1.0,
    max_features: int = 120,
    progress: Callable[[int], None] | None = None,
) -> MotionTrace:
    """Measure the region's motion frame by frame (frames are gray, possibly downscaled).

    ``scale`` converts the frames' pixels to source pixels (source = frame × scale).
    """
    times, valid, cam, bright, sharp = [], [], [], [], []
    log: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per frame: feature ids, steps, positions
    prev = None
    part_pts = bg_pts = None
    part_ids = np.zeros(0, np.int64)
    next_id = 0
    cam_pos = np.zeros(2)
    attempted = survived = 0
    part_mask = bg_mask = None
    ref_mean = None
    for n, frame in enumerate(frames):
        gray = frame.image
        h, w = gray.shape
        mean = float(gray.mean())
        ref_mean = ref_mean or max(mean, 1.0)
        if abs(mean / ref_mean - 1) > 0.01:  # LED flicker, auto-exposure: a gain, taken out
            gray = cv2.convertScaleAbs(gray, alpha=ref_mean / max(mean, 1.0))
        if part_mask is None:
            x0, y0, x1, y1 = roi_to_px(roi, w, h)
            part_mask = np.zeros((h, w), np.uint8)
            part_mask[y0:y1, x0:x1] = 255
            bg_mask = np.full((h, w), 255, np.uint8)
            mx, my = (x1 - x0) // 2, (y1 - y0) // 2
            bg_mask[max(0, y0 - my) : y1 + my, max(0, x0 - mx) : x1 + mx] = 0
            box = (x0, y0, x1, y1)
        ids, steps, at = np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros((0, 2))
        if prev is not None and part_pts is not None and len(part_pts):
            nxt, ok = _flow(prev, gray, part_pts)
            attempted += len(part_pts)
            survived += int(ok.sum())
            cam_step = np.zeros(2)
            if bg_pts is not None and len(bg_pts) >= _MIN_FEATURES:
                bg_next, bg_ok = _flow(prev, gray, bg_pts)
                if bg_ok.sum() >= _MIN_FEATURES:
                    cam_step = np.median((bg_next - bg_pts).reshape(-1, 2)[bg_ok], axis=0)
                bg_pts = bg_next[bg_ok].reshape(-1, 1, 2)
            ids = part_ids[ok]
            steps = (nxt - part_pts).reshape(-1, 2)[ok] - cam_step
            cam_pos = cam_pos + cam_step
            part_pts, part_ids = nxt[ok].reshape(-1, 1, 2), ids
            at = part_pts.reshape(-1, 2)
        log.append((ids, steps, at))
        if part_pts is None or len(part_pts) < 0.6 * max_features or n % 15 == 0:
            # Top up inside the region, away from the features still tracked.
            mask = part_mask.copy()
            for x, y in part_pts.reshape(-1, 2) if part_pts is not None else []:
                cv2.circle(mask, (int(x), int(y)), 4, 0, -1)
            room = max_features - (0 if part_pts is None else len(part_pts))
            new = _features(gray, mask, room) if room > 0 else None
            if new is not None and len(new):
                part_pts = new if part_pts is None else np.concatenate([part_pts, new]).astype(np.float32)
                part_ids = np.concatenate([part_ids, np.arange(next_id, next_id + len(new))])
                next_id += len(new)
        if bg_pts is None or len(bg_pts) < _MIN_FEATURES:
            new = _features(gray, bg_mask, 80)
            bg_pts = new if new is not None else np.zeros((0, 1, 2), np.float32)
        times.append(frame.time_s)
        cam.append(cam_pos * scale)
        bright.append(mean)
        x0, y0, x1, y1 = box
        crop = gray[y0:y1, x0:x1]
        sharp.append(float(cv2.Laplacian(crop, cv2.CV_32F).var()) if crop.size else 0.0)
        prev = gray
        if progress is not None:
            progress(frame.index)
    if not times:
        empty = np.zeros((0, 2))
        return MotionTrace(np.zeros(0), empty, np.zeros(0, bool), empty, 0.0, np.zeros(0), np.zeros(0))
    pos = np.zeros(2)
    xy = []
    moving, where = _moving_steps(log)
    for i, step in enumerate(moving):
        if step is not None:
            pos = pos + step
        xy.append(pos * scale)
        valid.append(step is not None or i == 0)
    return MotionTrace(
        time_s=np.asarray(times),
        xy_px=np.asarray(xy).reshape(-1, 2),
        valid=np.asarray(valid, bool),
        camera_xy_px=np.asarray(cam).reshape(-1, 2),
        feature_survival=float(survived / max(1, attempted)),
        mean_brightness=np.asarray(bright),
        sharpness=np.asarray(sharp),
        point_px=where * scale,
    )
