"""Find the body part and measure its motion to sub-pixel precision, camera motion removed.

Landmarks (MediaPipe) only place the region; pyramidal Lucas–Kanade optical flow on features
inside it measures the motion, minus the median flow of background features (the camera).
Where no landmark is found (a close-up of a foot), the region is where motion energy in the
clonus band concentrates.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage, signal

from vision.schema import Roi
from vision.video_io import Frame

_LK = dict(winSize=(21, 21), maxLevel=3,
           criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))  # fmt: skip
_FB_MAX_PX = 0.5  # forward–backward error above which a feature track is dropped
_MIN_FEATURES = 8
_BG_FEATURES = 150  # strong corners outside the region, for the camera's motion
# The camera's corners are strong and move little between frames: a smaller window and one
# pyramid level fewer track them as well, at half the cost.
_LK_CAMERA = dict(_LK, winSize=(15, 15), maxLevel=2)
# The part's features are topped up this often (frames): the fast-moving ones are the first
# to fail the forward–backward check, and a region around a joint holds more still features
# than moving ones, so waiting for the total to drop can leave the part untracked for beats.
_PART_TOP_UP_FRAMES = 5
_BG_TOP_UP_FRAMES = 15


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
    angle_deg: np.ndarray | None = None  # (n,) the part's rotation, accumulated; counter-clockwise as seen


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


def _ring(h: int, w: int, inner: float = 0.03, outer: float = 0.2) -> np.ndarray:
    """The frame's outer ring (between ``inner`` and ``outer`` of each side): mostly the
    background and the still reference, even in a close-up."""
    m_in, m_out = round(inner * min(h, w)), max(round(outer * min(h, w)), 2)
    ring = np.zeros((h, w), bool)
    ring[m_in : h - m_in, m_in : w - m_in] = True
    ring[m_out : h - m_out, m_out : w - m_out] = False
    return ring


_ECC_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-3)


def _steady(frames: np.ndarray, fs: float, below_hz: float) -> None:
    """Take the camera's slow wandering (below ``below_hz``) out of the (n, h, w) float32 stack,
    in place: each frame's shift against the middle one (ECC on the frame's outer ring),
    low-passed.

    A hand-held phone wanders by pixels while the filmer's tremor shakes it; a sharp edge the
    wandering carries across pixels shows the tremor with a changing strength, which no fixed
    gain takes out, and lights up along its whole length. The tremor itself (in the band) is
    left to the per-block regression: its estimate here would be noisier than it is.
    """
    n, h, w = frames.shape
    if n < 16 or below_hz >= 0.45 * fs:  # too short to tell slow from fast
        return
    ring = _ring(h, w).astype(np.uint8)
    mid = n // 2
    shift = np.zeros((n, 2), np.float32)
    for order in (range(mid + 1, n), range(mid - 1, -1, -1)):
        warp = np.eye(2, 3, dtype=np.float32)
        for i in order:
            # No convergence (a featureless ring) keeps the neighbour's shift.
            with contextlib.suppress(cv2.error):
                _, warp = cv2.findTransformECC(frames[mid], frames[i], warp, cv2.MOTION_TRANSLATION,
                                               _ECC_CRITERIA, ring, 1)  # fmt: skip
            shift[i] = warp[:, 2]
    sos = signal.butter(2, below_hz, fs=fs, output="sos")
    slow = signal.sosfiltfilt(sos, shift, axis=0)
    for i, (dx, dy) in enumerate(slow):
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        frames[i] = cv2.warpAffine(frames[i], m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REPLICATE)  # fmt: skip


def band_energy_map(
    frames_gray: np.ndarray, time_s: np.ndarray, band_hz: tuple[float, float], block_px: int = 4
) -> np.ndarray:
    """Per-pixel motion energy in the clonus band relative to the camera, (h, w), in px².

    ``frames_gray`` is a small (n, h, w) uint8 stack. Band-passed brightness obeys
    ``b ≈ −∇I·d`` (brightness change ≈ gradient × motion), so each block of
    ``block_px``² pixels gives its in-band motion ``d(t)`` by least squares (Lucas–Kanade on
    the band-passed stack; a block without texture is pulled towards no motion, and pixel
    noise averages out). The camera's in-band motion (shake, the filmer's tremor) is the same
    fit over the frame's outer ring and is taken out of every block: edges the camera moves
    do not light up, skin the part moves does. The camera's slow wandering is taken out of
    the frames first (``_steady``), so that the fit stays linear. Whole-frame changes
    (flicker, exposure) are taken out by removing each frame's mean.
    """
    n, h, w = frames_gray.shape
    fs = (n - 1) / max(1e-6, time_s[-1] - time_s[0])
    hi = min(band_hz[1], 0.45 * fs)
    sos = signal.butter(2, (band_hz[0], max(hi, band_hz[0] + 0.5)), btype="bandpass", fs=fs, output="sos")
    # Smoothed a little, so that brightness is linear in sub-pixel motion (no aliased texture).
    frames = np.stack([cv2.GaussianBlur(f, (0, 0), 1.0) for f in frames_gray.astype(np.float32)])
    _steady(frames, fs, 0.5 * band_hz[0])
    frames -= frames.mean(axis=(1, 2), keepdims=True)
    mean_frame = frames.mean(axis=0)
    gx = cv2.Sobel(mean_frame, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(mean_frame, cv2.CV_32F, 0, 1, ksize=3) / 8
    k = block_px
    hb, wb = h // k, w // k

    def blocks(a: np.ndarray) -> np.ndarray:  # (..., r·k, c·k) → (..., r, c) sums
        return a.reshape(*a.shape[:-2], a.shape[-2] // k, k, a.shape[-1] // k, k).sum(axis=(-3, -1))

    gxc, gyc = gx[: hb * k, : wb * k], gy[: hb * k, : wb * k]
    sxx, sxy, syy = blocks(gxc * gxc), blocks(gxc * gyc), blocks(gyc * gyc)
    bx = np.zeros((n, hb, wb), np.float32)
    by = np.zeros((n, hb, wb), np.float32)
    rows = max(k, 16 // k * k)  # rows in chunks (whole blocks) to bound memory
    for r0 in range(0, hb * k, rows):
        r1 = min(hb * k, r0 + rows)
        b = signal.sosfiltfilt(sos, frames[:, r0:r1, : wb * k], axis=0)
        bx[:, r0 // k : r1 // k] = blocks(b * gxc[r0:r1])
        by[:, r0 // k : r1 // k] = blocks(b * gyc[r0:r1])
    # The camera: the same fit over the outer ring of blocks (background and still reference).
    ring = _ring(hb, wb)
    cam_normal = np.array([[sxx[ring].sum(), sxy[ring].sum()], [sxy[ring].sum(), syy[ring].sum()]])
    cam_rhs = np.stack([bx[:, ring].sum(axis=1), by[:, ring].sum(axis=1)], axis=1)
    cam = -np.linalg.solve(cam_normal + 1e-6 * np.eye(2), cam_rhs.T).T  # (n, 2)
    # Per block (Σ g gᵀ + λ) d = −Σ g b gives its motion (no texture: pulled towards none).
    lam = 0.5 * k * k * float(np.mean(gx * gx + gy * gy)) + 1.0
    a, c, d = sxx + lam, sxy, syy + lam
    det = a * d - c * c
    motion = np.stack([-(d * bx - c * by) / det, -(a * by - c * bx) / det], axis=-1)  # (n, hb, wb, 2)
    # What the camera explains is taken out of each block by regression (a 2×2 gain per block:
    # how strongly an edge shows the camera's motion depends on its texture and direction).
    cc = cam.T @ cam + 1e-9 * np.eye(2)
    gain = np.einsum("tyxi,tj,jk->yxik", motion, cam, np.linalg.inv(cc))  # (hb, wb, 2, 2)
    residual = motion - np.einsum("yxik,tk->tyxi", gain, cam)
    # The strongest half second: a 3-beat episode in a long clip counts as much as it should.
    power = ndimage.uniform_filter1d((residual * residual).sum(axis=-1), max(1, int(0.5 * fs)), axis=0)
    energy = power.max(axis=0)
    out = np.full((h, w), float(np.median(energy)), np.float32)
    out[: hb * k, : wb * k] = np.repeat(np.repeat(energy, k, axis=0), k, axis=1)
    return out


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


def _features(
    gray: np.ndarray, mask: np.ndarray, max_corners: int, quality: float = 0.005, spacing_px: int = 3
) -> np.ndarray | None:
    """Corners inside ``mask``, searched in the mask's bounding box only (with a margin for the
    corner measure's own support, so the result is the same as over the whole frame)."""
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return None
    margin = 8
    x0, y0 = max(0, x - margin), max(0, y - margin)
    x1, y1 = min(gray.shape[1], x + w + margin), min(gray.shape[0], y + h + margin)
    pts = cv2.goodFeaturesToTrack(gray[y0:y1, x0:x1], maxCorners=max_corners, qualityLevel=quality,
                                  minDistance=spacing_px, mask=mask[y0:y1, x0:x1], blockSize=5)  # fmt: skip
    return None if pts is None else pts + np.float32([x0, y0])


def _flow(
    prev: np.ndarray, cur: np.ndarray, pts: np.ndarray, *, lk: dict = _LK, back_check: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Track points forward and (with ``back_check``) back; keep those found (and that
    return to where they started)."""
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None, **lk)
    if not back_check:
        return nxt, st.reshape(-1) == 1
    back, st_b, _ = cv2.calcOpticalFlowPyrLK(cur, prev, nxt, None, **lk)
    fb = np.linalg.norm((back - pts).reshape(-1, 2), axis=1)
    ok = (st.reshape(-1) == 1) & (st_b.reshape(-1) == 1) & (fb < _FB_MAX_PX)
    return nxt, ok


def similarity_fit(src: np.ndarray, dst: np.ndarray, iterations: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """A robust 2×3 similarity (rotation, scale, shift) taking ``src`` (k, 2) to ``dst``, and
    the weight each point kept (0 for outliers such as another moving thing).

    Least squares reweighted with Tukey's biweight, started from the median shift;
    deterministic (no random sampling), so the same video always gives the same result.
    """
    rot, shift = np.eye(2), np.median(dst - src, axis=0)
    weight = np.ones(len(src))
    for _ in range(iterations):
        residual = np.hypot(*(src @ rot.T + shift - dst).T)
        scale = max(0.3, 4.685 * 1.4826 * float(np.median(residual)))
        weight = np.clip(1 - (residual / scale) ** 2, 0, None) ** 2
        if weight.sum() < 3:
            break
        rot, shift = _weighted_similarity(src, dst, weight**2)
    return np.hstack([rot, shift[:, None]]), weight


def _weighted_similarity(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The similarity (2×2 scaled rotation, shift) minimising the ``w``-weighted squared
    distances, in closed form about the weighted centroids."""
    w = w / w.sum()
    ps, qs = w @ src, w @ dst
    p, q = src - ps, dst - qs
    norm = max(float(w @ np.sum(p * p, axis=1)), 1e-12)
    a = float(w @ np.sum(p * q, axis=1)) / norm
    b = float(w @ (p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0])) / norm
    rot = np.array([[a, -b], [b, a]])
    return rot, qs - rot @ ps


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


@dataclass
class _Step:
    """One frame's tracked part features: ids, where they were (camera-steadied) and their
    own step (camera removed), in tracking pixels."""

    ids: np.ndarray
    before: np.ndarray  # (k, 2)
    step: np.ndarray  # (k, 2)

    @property
    def after(self) -> np.ndarray:
        return self.before + self.step


def _depth_in_hull(points: np.ndarray) -> np.ndarray:
    """How far each point lies inside the points' convex hull (0 on it), in pixels: inside a
    convex polygon, the distance to its outline is the least distance to its edges' lines."""
    hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    if len(hull) < 3:
        return np.zeros(len(points))
    edge = np.roll(hull, -1, axis=0) - hull
    length = np.hypot(*edge.T)
    ok = length > 1e-9
    hull, edge, length = hull[ok], edge[ok], length[ok]
    # |cross(edge, p − start)| / |edge|: the distance from each point to each edge's line.
    rel = points[:, None, :] - hull[None]
    dist = np.abs(edge[:, 0] * rel[..., 1] - edge[:, 1] * rel[..., 0]) / length
    return dist.min(axis=1)


def _rotation_deg(before: np.ndarray, after: np.ndarray) -> float:
    """The rotation (degrees, counter-clockwise as seen) that best takes one point set to the
    other about their centroids (Procrustes).

    Features whose tracking window reaches over the part's outline (their convex hull) see
    the still background too and move less than the part; those well inside it are used
    when there are enough.
    """
    keep = _depth_in_hull(after) > _LK["winSize"][0] // 2
    if keep.sum() >= 3:
        before, after = before[keep], after[keep]
    p, q = before - before.mean(axis=0), after - after.mean(axis=0)
    cross = float(np.sum(p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]))
    dot = float(np.sum(p * q))
    return -float(np.degrees(np.arctan2(cross, dot)))  # image y points down


def _moving_steps(log: list[_Step]) -> tuple[list[np.ndarray | None], np.ndarray, np.ndarray]:
    """Per step, the median step of the features that move (the part), not of the still ones;
    where those features are (median position; NaN where none was tracked); and the movers'
    rotation (degrees; 0 where fewer than three were tracked).

    A region around a joint holds both the moving part and still skin or background. Each
    feature's mean squared step over its life says whether it belongs to the moving part;
    the median is then taken over those above a fraction of the strongest movers.

    A feature that lived only while the part was still (after the beats died out, the movers
    having been lost and replaced) cannot be told apart by its steps: where fewer than two
    movers are left, the features nearest to where the movers were stand in for them, so the
    last, fading beats are measured on the part and not on the still skin around it.
    """
    ids, seen = np.unique(
        np.concatenate([st.ids for st in log] or [np.zeros(0, np.int64)]), return_inverse=True
    )
    steps2 = np.concatenate([(st.step**2).sum(axis=1) for st in log] or [np.zeros(0)])
    life = np.bincount(seen, minlength=len(ids))
    lived = life >= 3
    energy = np.bincount(seen, weights=steps2, minlength=len(ids))[lived] / life[lived]
    top = float(np.percentile(energy, 95)) if len(energy) else 0.0
    movers = ids[lived][energy >= 0.3 * top]
    picks = [np.isin(st.ids, movers) for st in log]
    counts = [int(p.sum()) for p in picks if p.sum() >= 2]
    stand_ins = max(3, int(np.median(counts))) if counts else 0
    last: np.ndarray | None = None  # where the part was last seen
    out: list[np.ndarray | None] = []
    where = np.full((len(log), 2), np.nan)
    turn = np.zeros(len(log))
    for n, (st, pick) in enumerate(zip(log, picks, strict=True)):
        if not len(st.step):
            out.append(None)
            continue
        if pick.sum() < 2 and last is not None:
            pick = np.zeros(len(st.ids), bool)
            pick[np.argsort(np.hypot(*(st.before - last).T))[:stand_ins]] = True
        elif pick.sum() < 2:
            pick = np.ones(len(st.ids), bool)
        out.append(np.median(st.step[pick], axis=0))
        where[n] = np.median(st.after[pick], axis=0)
        if stand_ins:
            last = where[n]
        if pick.sum() >= 3:
            turn[n] = _rotation_deg(st.before[pick], st.after[pick])
    return out, where, turn


def _topped_up(
    gray: np.ndarray, mask: np.ndarray, pts: np.ndarray | None, wanted: int, due: bool, **kw
) -> tuple[np.ndarray | None, int]:
    """``pts`` with new features inside ``mask`` (away from those still tracked) added up to
    ``wanted`` when ``due`` or when fewer than 60 % are left; and how many were added."""
    if pts is not None and len(pts) >= 0.6 * wanted and not due:
        return pts, 0
    mask = mask.copy()
    for x, y in pts.reshape(-1, 2) if pts is not None else []:
        cv2.circle(mask, (int(x), int(y)), 4, 0, -1)
    room = wanted - (0 if pts is None else len(pts))
    new = _features(gray, mask, room, **kw) if room > 0 else None
    if new is None or not len(new):
        return pts, 0
    return (new if pts is None else np.concatenate([pts, new]).astype(np.float32)), len(new)


class _Camera:
    """The camera's motion from frame to frame: a robust similarity fitted to strong corners
    outside the region (the background and the still reference). Steps must come in frame
    order; the corners are topped up when due."""

    def __init__(self, mask: np.ndarray) -> None:
        self._mask = mask
        self._prev: np.ndarray | None = None
        self._pts: np.ndarray | None = None

    def step(self, gray: np.ndarray, top_up: bool) -> np.ndarray:
        """The 2×3 similarity from the previous frame to ``gray`` (none for the first)."""
        camera = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        pts = self._pts
        if self._prev is not None and pts is not None and len(pts) >= _MIN_FEATURES:
            # The camera's points are checked by the robust fit instead of tracking them back.
            nxt, ok = _flow(self._prev, gray, pts, lk=_LK_CAMERA, back_check=False)
            if ok.sum() >= _MIN_FEATURES:
                camera, weight = similarity_fit(pts.reshape(-1, 2)[ok], nxt.reshape(-1, 2)[ok])
                ok[np.flatnonzero(ok)[weight == 0]] = False  # moving things are not the camera
            pts = nxt[ok].reshape(-1, 1, 2)
        # Strong, spread corners only: flat areas in compressed video often do not move.
        self._pts, _ = _topped_up(gray, self._mask, pts, _BG_FEATURES, top_up, quality=0.02, spacing_px=8)
        self._prev = gray
        return camera


def _levelled(frames: Iterable[Frame]) -> Iterator[tuple[Frame, np.ndarray, float]]:
    """Each frame with its gray image brought to the first frame's brightness (LED flicker
    and auto-exposure are a gain, taken out), and its own mean brightness."""
    ref_mean = None
    for frame in frames:
        mean = float(frame.image.mean())
        ref_mean = ref_mean or max(mean, 1.0)
        gray = frame.image
        if abs(mean / ref_mean - 1) > 0.01:
            gray = cv2.convertScaleAbs(gray, alpha=ref_mean / max(mean, 1.0))
        yield frame, gray, mean


def _camera_ahead(
    frames: Iterator[tuple[Frame, np.ndarray, float]],
    camera: _Camera,
    pool: ThreadPoolExecutor,
    ahead: int = 2,
) -> Iterator[tuple[Frame, np.ndarray, float, Future[np.ndarray]]]:
    """The frames, each with its camera step being found on ``pool`` (one worker, so in frame
    order) up to ``ahead`` frames before the part's tracking reaches it."""
    queued: deque[tuple[Frame, np.ndarray, float, Future[np.ndarray]]] = deque()
    for n, (frame, gray, mean) in enumerate(frames):
        queued.append((frame, gray, mean, pool.submit(camera.step, gray, n % _BG_TOP_UP_FRAMES == 0)))
        if len(queued) > ahead:
            yield queued.popleft()
    yield from queued


def _masks(roi: Roi, w: int, h: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Where the part's features are found (the region), where the camera's are (outside
    the region grown by half its size on each side), and the region's box in pixels."""
    x0, y0, x1, y1 = roi_to_px(roi, w, h)
    part_mask = np.zeros((h, w), np.uint8)
    part_mask[y0:y1, x0:x1] = 255
    bg_mask = np.full((h, w), 255, np.uint8)
    mx, my = (x1 - x0) // 2, (y1 - y0) // 2
    bg_mask[max(0, y0 - my) : y1 + my, max(0, x0 - mx) : x1 + mx] = 0
    return part_mask, bg_mask, (x0, y0, x1, y1)


def track_region(
    frames: Iterable[Frame],
    roi: Roi,
    *,
    scale: float = 1.0,
    max_features: int = 120,
    progress: Callable[[int], None] | None = None,
) -> MotionTrace:
    """Measure the region's motion frame by frame (frames are gray, possibly downscaled).

    ``scale`` converts the frames' pixels to source pixels (source = frame × scale). The
    camera's motion between frames is a robust similarity fitted to strong corners outside
    the region, followed on a second thread a few frames ahead; each part feature's step is
    taken relative to where the camera alone would have carried it.
    """
    times, valid, cam, bright, sharp = [], [], [], [], []
    log: list[_Step] = []
    prev = None
    part_pts = None
    part_ids = np.zeros(0, np.int64)
    next_id = 0
    cam_pos = np.zeros(2)
    attempted = survived = 0
    levelled = _levelled(frames)
    first = next(levelled, None)
    if first is None:
        empty = np.zeros((0, 2))
        return MotionTrace(np.zeros(0), empty, np.zeros(0, bool), empty, 0.0, np.zeros(0), np.zeros(0))
    h, w = first[1].shape
    part_mask, bg_mask, box = _masks(roi, w, h)
    x0, y0, x1, y1 = box
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    stream = itertools.chain([first], levelled)
    with ThreadPoolExecutor(1, thread_name_prefix="camera") as pool:
        for n, (frame, gray, mean, camera_job) in enumerate(_camera_ahead(stream, _Camera(bg_mask), pool)):
            step = _Step(np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros((0, 2)))
            tracking = prev is not None and part_pts is not None and len(part_pts) > 0
            if tracking:
                nxt, ok = _flow(prev, gray, part_pts)
                attempted += len(part_pts)
                survived += int(ok.sum())
            camera = camera_job.result()  # raises what the camera's step raised
            if tracking:
                before = part_pts.reshape(-1, 2)[ok]
                after = nxt.reshape(-1, 2)[ok]
                steadied = _apply(camera, before)  # where the camera alone would have carried them
                step = _Step(part_ids[ok], steadied, after - steadied)
                cam_pos = cam_pos + _apply(camera, centre) - centre
                part_pts, part_ids = nxt[ok].reshape(-1, 1, 2), part_ids[ok]
            log.append(step)
            due = n % _PART_TOP_UP_FRAMES == 0
            part_pts, added = _topped_up(gray, part_mask, part_pts, max_features, due)
            part_ids = np.concatenate([part_ids, np.arange(next_id, next_id + added)])
            next_id += added
            times.append(frame.time_s)
            cam.append(cam_pos * scale)
            bright.append(mean)
            crop = gray[y0:y1, x0:x1]
            sharp.append(float(cv2.Laplacian(crop, cv2.CV_32F).var()) if crop.size else 0.0)
            prev = gray
            if progress is not None:
                progress(frame.index)
    pos = np.zeros(2)
    xy = []
    moving, where, turn = _moving_steps(log)
    for i, st in enumerate(moving):
        if st is not None:
            pos = pos + st
        xy.append(pos * scale)
        valid.append(st is not None or i == 0)
    return MotionTrace(
        time_s=np.asarray(times),
        xy_px=np.asarray(xy).reshape(-1, 2),
        valid=np.asarray(valid, bool),
        camera_xy_px=np.asarray(cam).reshape(-1, 2),
        feature_survival=float(survived / max(1, attempted)),
        mean_brightness=np.asarray(bright),
        sharpness=np.asarray(sharp),
        point_px=where * scale,
        angle_deg=np.cumsum(turn),
    )
