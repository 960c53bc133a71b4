"""A seeded renderer of small road scenes seen from a car's front camera: a road in
perspective with painted lane markings, cars, pedestrians and traffic signs, with occlusion
and the lighting trouble a real camera has.

No labelled driving dataset can ship with this book offline (KITTI, Cityscapes, nuScenes and
the Waymo Open Dataset are gigabytes each, behind registration and their own licences), so this
module *renders* frames whose labels are exact by construction. What it models:

- **The camera and the road.** A pinhole camera at a fixed height over a flat road. The
  horizon lies at 35-45 % of the image height, the vanishing point moves sideways (the car
  is not always centred in its lane, the road may bend: a quadratic ``curve`` term). A ground
  point at row ``y`` is seen at the scale ``k = (y - horizon) / (size - horizon)``: everything
  on the road, lanes and objects alike, shrinks linearly towards the horizon, as under a real
  perspective projection of a flat ground plane. The road has two lanes of 3.5 m, solid white
  edge lines and a dashed (white or yellow) centre line whose dashes also shrink with depth.
- **Objects** (``CLASSES``), sized in metres and projected with the same scale: *cars*
  (1.8 m x 1.5 m, seen from behind: a body in one of eight paint colours, a dark cabin, wheels,
  red tail lights) in the lanes; *pedestrians* (0.5 m x 1.75 m: head, shirt, trousers) on
  the verge or, one in four, crossing; *signs* (a 0.8 m plate on a 2.2 m grey pole at the
  roadside: a red-rimmed disc, a red-rimmed triangle or a blue square; the box is the plate).
  Objects are drawn far to near, so near ones **occlude** far ones; each object's visible
  fraction is measured on the rendered frame, and objects less than ``min_visible`` visible
  or smaller than ``min_height`` pixels are dropped from the labels (as KITTI marks such
  objects "don't care").
- **Lighting and sensor.** A frame-wide light level (a share ``dark`` of the frames are dusk
  or night, light 0.25-0.45 instead of 0.7-1.15), random contrast and colour cast, tree or
  building **shadows** (dark bands across the ground that darken road, markings and objects
  alike), and Gaussian sensor noise that grows in the dark (a camera raises its gain).

Each frame comes with its **boxes** (``x0, y0, x1, y1`` in pixels, the object's full drawn
extent clipped to the image), the **class id** of each box, each object's **visible**
fraction, and a **lane mask** (the painted markings that are visible, i.e. not hidden by an
object). Frame ``i`` is drawn from its own random stream ``(seed, i)``, so the first 100 frames
of a 1,000-frame run are exactly the 100 frames of a 100-frame run.

**Parameters** of :func:`render`: ``n`` frames of ``size`` x ``size`` RGB pixels; at most
``max_cars``, ``max_pedestrians``, ``max_signs`` objects of each class (each frame draws
0..max); ``dark`` (share of dusk/night frames), ``noise`` (sensor noise at full light),
``shadows`` (probability that a frame has shadows), ``min_visible``, ``min_height``, ``seed``.

**Known simplifications** (the sim-to-real gap, in small): the road is flat and empty of
texture beyond noise, with no kerbs, junctions, parked cars, trucks, cyclists or road works;
objects are a handful of flat shapes seen from one side, with eight paints and no reflections,
no motion blur, no rain, fog, glare or headlights; shadows are hard-edged bands; lighting is
global (no street lights); the camera never pitches or rolls; lane markings are never worn
out or missing. A detector that works here has learned these shapes, not cars: real frames
vary in every one of these ways.

>>> scenes = render(8, size=64, seed=0)
>>> scenes.images.shape, scenes.images.dtype, scenes.lanes.shape
((8, 64, 64, 3), dtype('float32'), (8, 64, 64))
>>> len(scenes.boxes), scenes.boxes[0].shape[1], sorted(set(np.concatenate(scenes.labels).tolist()))
(8, 4, [0, 1, 2])
>>> bool(scenes.lanes.any()), bool((render(8, size=64, seed=0).images == scenes.images).all())
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbook.checks import positive_int

__all__ = ["CLASSES", "RoadScenes", "render"]

CLASSES = ("car", "pedestrian", "sign")
LANE_M = 3.5  # lane width in metres; the road is two lanes
_PAINTS = np.array([[0.75, 0.1, 0.1], [0.1, 0.2, 0.6], [0.9, 0.9, 0.88], [0.08, 0.08, 0.1],
                    [0.6, 0.62, 0.65], [0.85, 0.7, 0.1], [0.15, 0.4, 0.2], [0.45, 0.25, 0.15]])
_SHIRTS = np.array([[0.8, 0.2, 0.2], [0.2, 0.3, 0.8], [0.9, 0.9, 0.9], [0.2, 0.6, 0.3],
                    [0.9, 0.6, 0.1], [0.5, 0.2, 0.6], [0.1, 0.1, 0.1]])


@dataclass(frozen=True)
class RoadScenes:
    """Rendered frames and their labels (see the module docstring)."""

    images: np.ndarray          # (n, size, size, 3) float32 in [0, 1]
    lanes: np.ndarray           # (n, size, size) uint8: 1 on visible lane markings
    boxes: list[np.ndarray]     # per frame (k, 4) float32: x0, y0, x1, y1 in pixels
    labels: list[np.ndarray]    # per frame (k,) int64 class ids into CLASSES
    visible: list[np.ndarray]   # per frame (k,) float32: visible fraction of each object
    light: np.ndarray           # (n,) float32: the frame's light level (< 0.5: dusk/night)

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: Any) -> RoadScenes:
        """The frames at ``index`` (a slice, or integer / boolean array)."""
        idx = np.arange(len(self))[index]
        return RoadScenes(self.images[idx], self.lanes[idx], [self.boxes[i] for i in idx],
                          [self.labels[i] for i in idx], [self.visible[i] for i in idx],
                          self.light[idx])


class _Frame:
    """One frame being drawn: colour canvas, object-id map and the road geometry."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size, self.rng = size, rng
        self.yy, self.xx = np.mgrid[0:size, 0:size] + 0.5
        self.img = np.zeros((size, size, 3))
        self.ids = np.full((size, size), -1)  # -1 scenery, -2 sign poles, >= 0 objects
        self.horizon = size * rng.uniform(0.35, 0.45)
        self.x_vanish = size * (0.5 + rng.uniform(-0.12, 0.12))
        self.x_bottom = size * (0.5 + rng.uniform(-0.12, 0.12))
        self.curve = rng.uniform(-0.25, 0.25) * size
        self.half_road = size * rng.uniform(0.62, 0.75)  # half the road width at the bottom row

    def k(self, y: Any) -> Any:
        """The perspective scale of ground row ``y`` (0 at the horizon, 1 at the bottom)."""
        return np.clip((np.asarray(y) - self.horizon) / (self.size - self.horizon), 0, None)

    def x_at(self, y: Any, u: Any) -> Any:
        """Image column of lateral road position ``u`` (-1, 0, 1: left edge, centre, right
        edge) on ground row ``y``."""
        k = self.k(y)
        centre = self.x_vanish + (self.x_bottom - self.x_vanish) * k + self.curve * k * (1 - k) ** 2
        return centre + u * self.half_road * k

    def px_per_m(self, y: float) -> float:
        return float(self.half_road * self.k(y) / LANE_M)

    def paint(self, mask: np.ndarray, colour: Any, obj: int | None = None) -> None:
        self.img[mask] = colour
        if obj is not None:
            self.ids[mask] = obj


def _scenery(f: _Frame) -> np.ndarray:
    """Sky, verge and road with its markings; returns lane-marking coverage (0..1)."""
    rng, s, y, x = f.rng, f.size, f.yy, f.xx
    sky = np.array([0.45, 0.62, 0.85]) + rng.normal(0, 0.05, 3)
    f.img[:] = sky * (1 - 0.3 * (y / f.horizon))[..., None]
    ground = y > f.horizon
    grass = np.array([0.3, 0.45, 0.2]) + rng.normal(0, 0.05, 3)
    f.img[ground] = grass + rng.normal(0, 0.03, (int(ground.sum()), 3))
    left, right = f.x_at(y, -1.15), f.x_at(y, 1.15)
    road = ground & (x > left) & (x < right)
    asphalt = rng.uniform(0.28, 0.42) + rng.normal(0, 0.015, 3)
    f.img[road] = asphalt + rng.normal(0, 0.02, (int(road.sum()), 1))
    k = f.k(y)
    width = 0.15 * f.half_road * k / LANE_M * 1.6   # 15 cm paint, drawn a little wide
    depth = 1.0 / np.maximum(k, 1e-3)                    # distance along the road, in units
    dash = ((depth / 1.6 + rng.uniform()) % 1.0) < 0.5
    yellow = rng.uniform() < 0.3
    cover = np.zeros((s, s))
    for u, dashed in ((-1.0, False), (0.0, True), (1.0, False)):
        c = np.clip(width / 2 + 0.5 - np.abs(x - f.x_at(y, u)), 0, 1) * ground
        if dashed:
            c = c * dash
        cover = np.maximum(cover, c)
        colour = np.array([0.85, 0.7, 0.15]) if (dashed and yellow) else np.array([0.92, 0.92, 0.9])
        f.img[:] = f.img * (1 - c[..., None]) + colour * c[..., None]
    return cover


def _car(f: _Frame, obj: int, y_b: float, u: float) -> np.ndarray:
    m = f.px_per_m(y_b)
    xc = float(f.x_at(y_b, u))
    w, h = 1.8 * m, 1.5 * m
    x0, x1, y0 = xc - w / 2, xc + w / 2, y_b - h
    X, Y = f.xx, f.yy
    paint = _PAINTS[f.rng.integers(len(_PAINTS))] * f.rng.uniform(0.85, 1.1)
    body = (X > x0) & (X < x1) & (Y > y0 + 0.45 * h) & (Y < y_b - 0.12 * h)
    cabin = (X > x0 + 0.12 * w) & (X < x1 - 0.12 * w) & (Y > y0) & (Y <= y0 + 0.45 * h)
    glass = (X > x0 + 0.2 * w) & (X < x1 - 0.2 * w) & (Y > y0 + 0.08 * h) & (Y < y0 + 0.42 * h)
    wheels = (((X > x0 + 0.05 * w) & (X < x0 + 0.28 * w)) | ((X > x1 - 0.28 * w) & (X < x1 - 0.05 * w))) \
        & (Y >= y_b - 0.12 * h) & (Y < y_b)
    lights = (((X > x0 + 0.04 * w) & (X < x0 + 0.2 * w)) | ((X > x1 - 0.2 * w) & (X < x1 - 0.04 * w))) \
        & (Y > y0 + 0.52 * h) & (Y < y0 + 0.64 * h)
    f.paint(body | cabin, paint, obj)
    f.paint(glass, np.array([0.12, 0.14, 0.18]), obj)
    f.paint(wheels, np.array([0.04, 0.04, 0.04]), obj)
    f.paint(lights, np.array([0.9, 0.08, 0.05]), obj)
    return np.array([x0, y0, x1, y_b])


def _pedestrian(f: _Frame, obj: int, y_b: float, u: float) -> np.ndarray:
    m = f.px_per_m(y_b)
    xc = float(f.x_at(y_b, u))
    w, h = 0.5 * m, 1.75 * m
    y0 = y_b - h
    X, Y = f.xx, f.yy
    rng = f.rng
    head = (X - xc) ** 2 + (Y - (y0 + 0.07 * h)) ** 2 < (0.075 * h) ** 2 + 0.15
    torso = (np.abs(X - xc) < w / 2) & (Y > y0 + 0.14 * h) & (Y < y0 + 0.55 * h)
    stride = rng.uniform(0, 0.25) * w
    legs = ((np.abs(X - xc + stride) < 0.2 * w) | (np.abs(X - xc - stride) < 0.2 * w)) \
        & (Y >= y0 + 0.55 * h) & (Y < y_b)
    f.paint(head, np.array([0.85, 0.65, 0.5]) * rng.uniform(0.45, 1.05), obj)
    f.paint(torso, _SHIRTS[rng.integers(len(_SHIRTS))], obj)
    f.paint(legs, np.array([0.15, 0.15, 0.3]) * rng.uniform(0.5, 1.5), obj)
    return np.array([xc - w / 2, y0, xc + w / 2, y_b])


def _sign(f: _Frame, obj: int, y_b: float, u: float) -> np.ndarray:
    m = f.px_per_m(y_b)
    xc = float(f.x_at(y_b, u))
    r = 0.4 * m
    cy = y_b - 2.2 * m
    X, Y = f.xx, f.yy
    pole = (np.abs(X - xc) < max(0.04 * m, 0.35)) & (Y > cy) & (Y < y_b)
    f.paint(pole, np.array([0.55, 0.55, 0.55]), -2)
    kind = f.rng.integers(3)
    dx, dy = X - xc, Y - cy
    red, white, blue = np.array([0.85, 0.1, 0.1]), np.array([0.95, 0.95, 0.95]), np.array([0.1, 0.3, 0.8])
    if kind == 0:    # a round prohibition sign: red rim, white face
        outer = dx ** 2 + dy ** 2 < r ** 2 + 0.2
        inner = dx ** 2 + dy ** 2 < (0.65 * r) ** 2
        f.paint(outer, red, obj)
        f.paint(inner, white, obj)
    elif kind == 1:  # a warning triangle, point up
        outer = (dy < r * 0.8) & (dy > -r) & (np.abs(dx) < (dy + r) * 0.58 + 0.3)
        inner = (dy < r * 0.55) & (dy > -0.45 * r) & (np.abs(dx) < (dy + 0.45 * r) * 0.58)
        f.paint(outer, red, obj)
        f.paint(inner, white, obj)
    else:            # a blue information square
        f.paint((np.abs(dx) < r) & (np.abs(dy) < r), blue, obj)
        f.paint((np.abs(dx) < 0.2 * r) & (np.abs(dy) < 0.6 * r), white, obj)
    return np.array([xc - r, cy - r, xc + r, cy + r])


def _objects(f: _Frame, max_cars: int, max_peds: int, max_signs: int) -> tuple[list, list, list]:
    rng, s = f.rng, f.size
    plan = []
    for cls, most in enumerate((max_cars, max_peds, max_signs)):
        for _ in range(rng.integers(0, most + 1)):
            if cls == 0:    # in a lane, near or far
                k, u = rng.uniform(0.12, 0.95), rng.choice([-0.5, 0.5]) + rng.normal(0, 0.08)
            elif cls == 1:  # on the verge, one in four crossing the road
                crossing = rng.uniform() < 0.25
                k = rng.uniform(0.12, 0.9 if crossing else 0.6)
                u = rng.uniform(-0.8, 0.8) if crossing else rng.choice([-1, 1]) * rng.uniform(1.15, 1.4)
            else:           # at the roadside, far enough ahead to be read
                k, u = rng.uniform(0.15, 0.55), rng.choice([-1, 1]) * rng.uniform(1.2, 1.4)
            y_b = f.horizon + k * (s - f.horizon)
            plan.append((y_b, cls, u))
    plan.sort()                                   # far (small y) first: near ones occlude
    draw = (_car, _pedestrian, _sign)
    boxes, classes, areas = [], [], []
    for obj, (y_b, cls, u) in enumerate(plan):
        boxes.append(draw[cls](f, obj, y_b, u))
        classes.append(cls)
        areas.append(float((f.ids == obj).sum()))  # nothing nearer is drawn yet
    return boxes, classes, areas


def _light(f: _Frame, dark: float, noise: float, shadows: float) -> float:
    rng, s = f.rng, f.size
    img = f.img
    if rng.uniform() < shadows:                   # hard shadow bands across the ground
        for _ in range(rng.integers(1, 4)):
            y_c = f.horizon + rng.uniform(0.1, 1.0) * (s - f.horizon)
            half = rng.uniform(0.02, 0.12) * s
            slope = rng.uniform(-0.6, 0.6)
            band = (np.abs(f.yy - y_c - slope * (f.xx - s / 2)) < half) & (f.yy > f.horizon)
            img[band] *= rng.uniform(0.35, 0.6)
    light = rng.uniform(0.25, 0.45) if rng.uniform() < dark else rng.uniform(0.7, 1.15)
    contrast = rng.uniform(0.75, 1.2)
    cast = 1 + rng.normal(0, 0.05, 3)
    img = ((img - 0.5) * contrast + 0.5) * cast * light
    sigma = noise * rng.uniform(0.5, 1.5) / np.sqrt(light)
    f.img = np.clip(img + rng.normal(0, sigma, img.shape), 0, 1)
    return float(light)


def render(n: int, *, size: int = 64, max_cars: int = 4, max_pedestrians: int = 3,
           max_signs: int = 2, dark: float = 0.25, noise: float = 0.03, shadows: float = 0.5,
           min_visible: float = 0.3, min_height: float = 3.0, seed: int = 0) -> RoadScenes:
    """Render ``n`` road scenes of ``size`` x ``size`` pixels (see the module docstring).

    >>> s = render(2, size=32, max_cars=1, max_pedestrians=0, max_signs=0, seed=3)
    >>> [set(lab.tolist()) <= {0} for lab in s.labels]
    [True, True]
    >>> render(1, size=20)
    Traceback (most recent call last):
        ...
    ValueError: size must be at least 32 pixels, got 20
    """
    n = positive_int(n, "n")
    size = positive_int(size, "size")
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels, got {size}")
    for value, what in ((max_cars, "max_cars"), (max_pedestrians, "max_pedestrians"),
                        (max_signs, "max_signs")):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{what} must be an int >= 0, got {value!r}")
    for value, what in ((dark, "dark"), (shadows, "shadows"), (min_visible, "min_visible")):
        if not 0 <= value <= 1:
            raise ValueError(f"{what} is a share and must lie in [0, 1], got {value!r}")
    if noise < 0 or min_height < 0:
        raise ValueError(f"noise and min_height must be >= 0, got {noise!r} and {min_height!r}")
    images = np.empty((n, size, size, 3), np.float32)
    lanes = np.empty((n, size, size), np.uint8)
    boxes, labels, visible, light = [], [], [], np.empty(n, np.float32)
    for i in range(n):
        f = _Frame(size, np.random.default_rng([seed, i]))
        cover = _scenery(f)
        raw, classes, areas = _objects(f, max_cars, max_pedestrians, max_signs)
        light[i] = _light(f, dark, noise, shadows)
        lanes[i] = (cover > 0.5) & (f.ids == -1)
        keep_b, keep_c, keep_v = [], [], []
        for j, (box, cls) in enumerate(zip(raw, classes, strict=True)):
            seen = float((f.ids == j).sum()) / max(areas[j], 1.0)
            clipped = np.clip(box, 0, size)
            if seen >= min_visible and clipped[3] - clipped[1] >= min_height and clipped[2] > clipped[0]:
                keep_b.append(clipped)
                keep_c.append(cls)
                keep_v.append(min(seen, 1.0))
        images[i] = f.img
        boxes.append(np.array(keep_b, np.float32).reshape(-1, 4))
        labels.append(np.array(keep_c, np.int64))
        visible.append(np.array(keep_v, np.float32))
    return RoadScenes(images, lanes, boxes, labels, visible, light)

