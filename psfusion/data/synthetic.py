"""A synthetic, complementary-modality road-scene dataset, in the MSRS (or FMB) layout.

Real MSRS/MFNet labels cannot be downloaded on an offline machine, and a first run must work
offline.  This module draws MSRS-like street scenes with the same nine classes and **exact**
labels, and renders each scene twice, following the physics the paper's premise rests on:

Scene (shared by both modalities, drawn far to near so nearer objects occlude):
    sky and buildings above a horizon, a road in perspective towards a vanishing point, curbs
    along the road edges (``curve``), optionally a guardrail, car stops at the roadside, a speed
    bump across the road, colour cones on it, and cars, people and bikes whose size follows the
    perspective.

Visible (reflected light):
    by day every class shows its typical colour and texture (white curbs, yellow car stops and
    bumps, orange cones, metallic guardrails, coloured cars, clothed people, dark bikes); at
    night the ambient light drops to 6-14 %, sensor noise rises, street lamps and car lights
    add glare, and only retro-reflective paint (curbs, bumps, cones, car stops, guardrail
    stripes) stays partly visible: people and bikes almost vanish.

Infrared (emitted heat):
    identical by day and night up to a cooler background at night.  Warm objects (cars, people,
    bikes) stand out; painted and passive classes (curve, car stop, guardrail, cone, bump) sit
    within a few hundredths of the road's temperature, so they are nearly invisible.  The sensor
    has half the resolution, a blurred optic, random noise and column fixed-pattern noise.

So infrared alone finds the warm targets but not the markings, visible alone loses the targets
at night, and only both together see every class: the benchmark has something real to measure.
Every sample is generated from ``numpy.random.default_rng([seed, split, index])``, so a dataset
is reproducible and a sample does not depend on how many others were asked for.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Callable, Optional

import cv2
import numpy as np
from PIL import Image

from ..fileio import save_png
from .layouts import FMB_CLASSES, MSRS_CLASSES

SPLIT_IDS = {'train': 0, 'val': 1, 'test': 2}
# Class ids (MSRS ids, see MSRS_CLASSES).
CLASSES = MSRS_CLASSES
BACKGROUND, CAR, PERSON, BIKE, CURVE, CAR_STOP, GUARDRAIL, CONE, BUMP = range(9)

# Day colours (RGB in [0, 1]) of the painted / passive classes.
PAINT = {
    CURVE: (0.88, 0.88, 0.84),
    CAR_STOP: (0.92, 0.78, 0.10),
    GUARDRAIL: (0.62, 0.66, 0.72),
    CONE: (1.00, 0.42, 0.05),
    BUMP: (0.95, 0.85, 0.10),
}
CAR_COLOURS = ((0.75, 0.08, 0.08), (0.10, 0.20, 0.70), (0.85, 0.85, 0.85), (0.12, 0.12, 0.14),
               (0.55, 0.57, 0.60), (0.10, 0.45, 0.20))
CLOTHES = ((0.15, 0.15, 0.35), (0.55, 0.10, 0.10), (0.20, 0.35, 0.20), (0.30, 0.25, 0.20),
           (0.80, 0.75, 0.60))
# Share of retro-reflected light that painted classes return at night (people, bikes: none).
RETROREFLECTION = {CURVE: 4.0, CAR_STOP: 3.0, GUARDRAIL: 2.0, CONE: 4.0, BUMP: 4.0}
# Temperature offsets (in [0, 1] units) above the local background for passive classes.
PASSIVE_DELTA_T = {CURVE: 0.012, CAR_STOP: 0.015, GUARDRAIL: 0.02, CONE: 0.01, BUMP: 0.012}


@dataclass
class Layer:
    """One drawn part: a class id, a pixel mask, and how it looks in each modality."""
    cls: int
    mask: np.ndarray
    colour: tuple = (0.5, 0.5, 0.5)
    temperature: Optional[float] = None  # None: background temperature + PASSIVE_DELTA_T
    texture: float = 0.03


@dataclass
class Scene:
    """Geometry and appearance shared by both modalities."""
    height: int
    width: int
    night: bool
    horizon: int
    layers: list = field(default_factory=list)
    lights: list = field(default_factory=list)  # (x, y, radius, strength) glare sources
    background_rgb: Optional[np.ndarray] = None
    background_temp: Optional[np.ndarray] = None

    def label(self) -> np.ndarray:
        label = np.zeros((self.height, self.width), np.uint8)
        for layer in self.layers:
            label[layer.mask] = layer.cls
        return label


def _poly_mask(shape: tuple, points) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(points)).astype(np.int32)], 1)
    return mask.astype(bool)


def _draw(shape: tuple, painter: Callable[[np.ndarray], None]) -> np.ndarray:
    canvas = np.zeros(shape, np.uint8)
    painter(canvas)
    return canvas.astype(bool)


def _smooth_noise(rng: np.random.Generator, shape: tuple, scale: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1] (random grid, bicubic upsampling)."""
    h, w = shape
    grid = rng.uniform(-1, 1, (max(2, h // scale), max(2, w // scale))).astype(np.float32)
    return np.clip(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), -1, 1)


class SceneSampler:
    """Draws a random street scene; see the module docstring."""

    def __init__(self, rng: np.random.Generator, height: int, width: int, night: bool) -> None:
        self.rng = rng
        self.h, self.w = height, width
        self.night = night

    def scale_at(self, y: float) -> float:
        """Perspective scale of an object standing at row ``y`` (0 at the horizon, 1 at the
        bottom)."""
        return float(np.clip((y - self.horizon) / (self.h - self.horizon), 0.15, 1.0))

    def sample(self) -> Scene:
        rng, h, w = self.rng, self.h, self.w
        self.horizon = int(h * rng.uniform(0.32, 0.42))
        self.vx = w * rng.uniform(0.4, 0.6)
        self.left_bottom = w * rng.uniform(-0.35, 0.05)
        self.right_bottom = w * rng.uniform(0.95, 1.35)
        scene = Scene(h, w, self.night, self.horizon)
        self.object_lights = []  # car lights, filled by _car at night
        self._background(scene)
        parts = self._static_parts() + self._objects()
        scene.lights += self.object_lights
        # far (small bottom y) to near: nearer parts are drawn last and occlude
        for _, layer in sorted(parts, key=lambda item: item[0]):
            scene.layers.append(layer)
        if self.night:
            for _ in range(rng.integers(1, 4)):  # street lamps above the horizon
                scene.lights.append((rng.uniform(0, w), rng.uniform(0.1, 0.9) * self.horizon,
                                     rng.uniform(0.04, 0.08) * w, rng.uniform(0.6, 1.0)))
        return scene

    def road_x(self, y: float, side: str) -> float:
        t = (y - self.horizon) / (self.h - self.horizon)
        bottom = self.left_bottom if side == 'left' else self.right_bottom
        return self.vx + t * (bottom - self.vx)

    def _background(self, scene: Scene) -> None:
        rng, h, w, hz = self.rng, self.h, self.w, self.horizon
        rows = np.arange(h, dtype=np.float32)[:, None]
        rgb = np.zeros((h, w, 3), np.float32)
        temp = np.zeros((h, w), np.float32)
        sky = np.array([0.55, 0.72, 0.92], np.float32) * rng.uniform(0.85, 1.1)
        rgb[:hz] = sky * (0.8 + 0.2 * rows[:hz, :, None] / max(hz, 1))
        temp[:hz] = 0.12
        # buildings: blocks of random height and colour with window texture
        x = 0
        while x < w:
            bw = int(rng.uniform(0.08, 0.25) * w) + 2
            top = int(hz * rng.uniform(0.1, 0.8))
            colour = rng.uniform(0.3, 0.7) * np.array([1.0, 0.95, 0.88]) * rng.uniform(0.8, 1.2, 3)
            rgb[top:hz, x:x + bw] = np.clip(colour, 0, 1)
            temp[top:hz, x:x + bw] = rng.uniform(0.32, 0.42)
            x += bw
        windows = (np.sin(np.arange(w) * 1.3)[None, :] > 0.6) & (np.sin(rows * 1.1) > 0.5)
        rgb[:hz][windows[:hz]] *= 0.6
        # ground: sidewalk everywhere below the horizon, the road polygon on top
        rgb[hz:] = np.array([0.62, 0.60, 0.56], np.float32)
        temp[hz:] = 0.46
        road = _poly_mask((h, w), [(self.vx - 1, hz), (self.vx + 1, hz),
                                   (self.right_bottom, h), (self.left_bottom, h)])
        rgb[road] = np.float32(rng.uniform(0.30, 0.40))
        temp[road] = 0.50 if not self.night else 0.44
        if self.night:
            temp[hz:] -= 0.06
        rgb *= (1 + 0.08 * _smooth_noise(rng, (h, w), 4))[..., None]
        temp += 0.02 * _smooth_noise(rng, (h, w), 16)
        scene.background_rgb = np.clip(rgb, 0, 1)
        scene.background_temp = temp
        self.road = road

    # -- painted and passive classes -------------------------------------------------------
    def _static_parts(self) -> list:
        rng, h, w, hz = self.rng, self.h, self.w, self.horizon
        shape = (h, w)
        parts = []
        for side in ('left', 'right'):  # curbs along both road edges, widening with distance
            top = hz + 0.02 * h
            points = []
            for y in (top, h):
                x = self.road_x(y, side)
                half = 0.5 + 0.018 * w * self.scale_at(y)
                points += [(x - half, y), (x + half, y)]
            poly = [points[0], points[1], points[3], points[2]]
            parts.append((top, Layer(CURVE, _poly_mask(shape, poly), PAINT[CURVE])))
        if rng.random() < 0.6:  # guardrail outside one road edge: a band with posts
            side = rng.choice(['left', 'right'])
            sign = -1 if side == 'left' else 1
            y0, y1 = hz + 0.03 * h, h * rng.uniform(0.7, 1.0)
            rail = []
            for y in (y0, y1):
                x = self.road_x(y, side) + sign * 0.06 * w * self.scale_at(y)
                rail.append((x, y - 0.10 * h * self.scale_at(y), y - 0.06 * h * self.scale_at(y)))
            poly = [(rail[0][0], rail[0][1]), (rail[1][0], rail[1][1]),
                    (rail[1][0], rail[1][2]), (rail[0][0], rail[0][2])]
            mask = _poly_mask(shape, poly)
            for t in np.linspace(0.1, 1.0, 5):  # posts
                y = y0 + t * (y1 - y0)
                x = self.road_x(y, side) + sign * 0.06 * w * self.scale_at(y)
                half = max(1.0, 0.006 * w * self.scale_at(y))
                mask |= _poly_mask(shape, [(x - half, y - 0.10 * h * self.scale_at(y)),
                                           (x + half, y - 0.10 * h * self.scale_at(y)),
                                           (x + half, y), (x - half, y)])
            parts.append((y1, Layer(GUARDRAIL, mask, PAINT[GUARDRAIL], texture=0.05)))
        for _ in range(rng.integers(0, 4)):  # car stops: low blocks just outside the curb
            y = rng.uniform(hz + 0.15 * (h - hz), h - 2)
            s = self.scale_at(y)
            side = rng.choice(['left', 'right'])
            x = self.road_x(y, side) + (-1 if side == 'left' else 1) * 0.05 * w * s
            bw, bh = 0.12 * w * s, max(3.0, 0.045 * h * s)
            mask = _poly_mask(shape, [(x - bw / 2, y - bh), (x + bw / 2, y - bh), (x + bw / 2, y),
                                      (x - bw / 2, y)])
            parts.append((y, Layer(CAR_STOP, mask, PAINT[CAR_STOP])))
        if rng.random() < 0.7:  # one speed bump across the road
            y = rng.uniform(hz + 0.25 * (h - hz), h - 4)
            bh = max(2.0, 0.045 * h * self.scale_at(y))
            xl, xr = self.road_x(y, 'left'), self.road_x(y, 'right')
            mask = _poly_mask(shape, [(xl, y - bh), (xr, y - bh), (xr, y), (xl, y)]) & self.road
            parts.append((y - bh, Layer(BUMP, mask, PAINT[BUMP], texture=0.06)))
        for _ in range(rng.integers(0, 5)):  # colour cones on the road
            y = rng.uniform(hz + 0.1 * (h - hz), h - 1)
            s = self.scale_at(y)
            x = rng.uniform(self.road_x(y, 'left'), self.road_x(y, 'right'))
            ch, cw = max(5.0, 0.12 * h * s), max(4.0, 0.05 * w * s)
            mask = _poly_mask(shape, [(x, y - ch), (x + cw / 2, y), (x - cw / 2, y)])
            parts.append((y, Layer(CONE, mask, PAINT[CONE])))
        return parts

    # -- warm objects -----------------------------------------------------------------------
    def _objects(self) -> list:
        rng, h, w, hz = self.rng, self.h, self.w, self.horizon
        parts = []
        for _ in range(rng.integers(0, 4)):  # cars on the road
            y = rng.uniform(hz + 0.1 * (h - hz), h + 0.1 * h)
            s = self.scale_at(min(y, h))
            x = rng.uniform(self.road_x(min(y, h), 'left'), self.road_x(min(y, h), 'right'))
            parts += self._car(x, y, s)
        for _ in range(rng.integers(0, 5)):  # people, anywhere below the horizon
            y = rng.uniform(hz + 0.08 * (h - hz), h + 0.05 * h)
            s = self.scale_at(min(y, h))
            parts += self._person(rng.uniform(0, w), y, s)
        for _ in range(rng.integers(0, 3)):  # bikes
            y = rng.uniform(hz + 0.1 * (h - hz), h)
            s = self.scale_at(y)
            parts += self._bike(rng.uniform(0, w), y, s)
        return parts

    def _car(self, x: float, y: float, s: float) -> list:
        rng, shape = self.rng, (self.h, self.w)
        cw = 0.30 * self.w * s * rng.uniform(0.85, 1.15)
        ch = 0.55 * cw
        body = _poly_mask(shape, [(x - cw / 2, y - 0.55 * ch), (x + cw / 2, y - 0.55 * ch),
                                  (x + cw / 2, y - 0.08 * ch), (x - cw / 2, y - 0.08 * ch)])
        cabin = _poly_mask(shape, [(x - 0.32 * cw, y - ch), (x + 0.32 * cw, y - ch),
                                   (x + 0.42 * cw, y - 0.55 * ch), (x - 0.42 * cw, y - 0.55 * ch)])
        window = _poly_mask(shape, [(x - 0.26 * cw, y - 0.93 * ch), (x + 0.26 * cw, y - 0.93 * ch),
                                    (x + 0.34 * cw, y - 0.6 * ch), (x - 0.34 * cw, y - 0.6 * ch)])
        radius = max(1, int(round(0.11 * cw)))
        wheels = _draw(shape, lambda c: [cv2.circle(c, (int(x + dx * cw), int(y - radius)), radius,
                                                    1, -1) for dx in (-0.3, 0.3)])
        colour = CAR_COLOURS[rng.integers(len(CAR_COLOURS))]
        engine = rng.uniform(0.70, 0.80)
        car = [
            (y, Layer(CAR, body | cabin, colour, temperature=engine, texture=0.02)),
            (y, Layer(CAR, window & cabin, (0.08, 0.09, 0.1), temperature=engine - 0.12)),
            (y, Layer(CAR, wheels, (0.05, 0.05, 0.05), temperature=engine + 0.08)),
        ]
        if self.night:  # head/tail lights: glare in the visible image
            for dx in (-0.4, 0.4):
                self.object_lights.append((x + dx * cw, y - 0.35 * ch, 0.25 * cw, 1.0))
        return car

    def _person(self, x: float, y: float, s: float) -> list:
        rng, shape = self.rng, (self.h, self.w)
        ph = 0.30 * self.h * s * rng.uniform(0.85, 1.15)
        pw = 0.28 * ph
        head_r = max(1, int(round(0.09 * ph)))
        head = _draw(shape, lambda c: cv2.circle(c, (int(x), int(y - ph + head_r)), head_r, 1, -1))
        torso = _poly_mask(shape, [(x - pw / 2, y - ph + 2 * head_r), (x + pw / 2,
                                                                        y - ph + 2 * head_r),
                                   (x + 0.4 * pw, y - 0.45 * ph), (x - 0.4 * pw, y - 0.45 * ph)])
        leg_w = max(1, int(round(0.12 * pw * 2)))
        legs = _draw(shape, lambda c: [cv2.line(c, (int(x + dx * pw), int(y - 0.45 * ph)),
                                                (int(x + dx * pw * 1.4), int(y)), 1, leg_w)
                                       for dx in (-0.2, 0.2)])
        body_t = rng.uniform(0.80, 0.86)
        clothes = CLOTHES[rng.integers(len(CLOTHES))]
        return [(y, Layer(PERSON, torso | legs, clothes, temperature=body_t)),
                (y, Layer(PERSON, head, (0.80, 0.62, 0.50), temperature=body_t + 0.07))]

    def _bike(self, x: float, y: float, s: float) -> list:
        rng, shape = self.rng, (self.h, self.w)
        bw = 0.20 * self.w * s * rng.uniform(0.85, 1.15)
        r = max(2, int(round(0.22 * bw)))
        thick = max(1, int(round(0.06 * bw)))
        left, right = (int(x - bw / 2 + r), int(y - r)), (int(x + bw / 2 - r), int(y - r))
        seat = (int(x - 0.05 * bw), int(y - 2.1 * r))

        def paint(c):
            cv2.circle(c, left, r, 1, thick)
            cv2.circle(c, right, r, 1, thick)
            cv2.line(c, left, seat, 1, thick)
            cv2.line(c, seat, right, 1, thick)
            cv2.line(c, left, right, 1, thick)

        return [(y, Layer(BIKE, _draw(shape, paint), (0.12, 0.12, 0.15),
                          temperature=rng.uniform(0.66, 0.72)))]


def render_visible(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """Visible RGB (uint8): day colours, or night darkness with glare and retroreflection."""
    h, w = scene.height, scene.width
    rgb = scene.background_rgb.copy()
    for layer in scene.layers:
        texture = 1 + layer.texture * rng.standard_normal((h, w)).astype(np.float32)
        rgb[layer.mask] = np.clip(np.asarray(layer.colour, np.float32) * texture[layer.mask, None],
                                  0, 1)
    if scene.night:
        ambient = rng.uniform(0.06, 0.14)
        gain = np.full((h, w), ambient, np.float32)
        label = scene.label()
        for cls, factor in RETROREFLECTION.items():
            gain[label == cls] = ambient * factor
        rgb *= gain[..., None]
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        for x, y, radius, strength in scene.lights:
            glare = strength * np.exp(-((xs - x)**2 + (ys - y)**2) / (2 * radius**2))
            rgb += glare[..., None] * np.array([1.0, 0.92, 0.75], np.float32)
        noise = 0.045
    else:
        rgb *= rng.uniform(0.9, 1.1)
        noise = 0.012
    rgb = cv2.GaussianBlur(rgb, (3, 3), 0.6)
    rgb += noise * rng.standard_normal(rgb.shape).astype(np.float32)
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def render_infrared(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """Infrared (uint8, one channel): temperatures through a low-resolution, noisy sensor."""
    h, w = scene.height, scene.width
    temp = scene.background_temp.copy()
    for layer in scene.layers:
        if layer.temperature is None:
            temp[layer.mask] = scene.background_temp[layer.mask] + PASSIVE_DELTA_T[layer.cls]
        else:
            temp[layer.mask] = layer.temperature + 0.02 * rng.standard_normal(
                int(layer.mask.sum())).astype(np.float32)
    low = cv2.resize(temp, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    temp = cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR)
    temp = cv2.GaussianBlur(temp, (5, 5), 1.0)
    temp += 0.015 * rng.standard_normal((h, w)).astype(np.float32)
    temp += 0.01 * rng.standard_normal((1, w)).astype(np.float32)  # column fixed-pattern noise
    return np.clip(np.rint(temp * 255), 0, 255).astype(np.uint8)


def make_sample(seed: int, split: str, index: int, height: int = 128,
                width: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """One sample: ``(infrared HxW uint8, visible HxWx3 uint8, label HxW uint8, is_night)``.

    Day and night alternate by index parity, so every split is half day, half night.
    """
    if height < 32 or width < 32:
        raise ValueError(f'synthetic images must be at least 32x32, got {height}x{width}')
    rng = np.random.default_rng([seed, SPLIT_IDS[split], index])
    night = index % 2 == 1
    scene = SceneSampler(rng, height, width, night).sample()
    label = scene.label()
    visible = render_visible(scene, rng)
    infrared = render_infrared(scene, rng)
    return infrared, visible, label, night


#: The layouts the synthetic scenes can be written in: where each split's infrared, visible and
#: label images go, whether split lists are written, the class names, and how the scene's MSRS
#: class ids map onto them (classes the target dataset lacks become 0, unlabelled).
SYNTHETIC_LAYOUTS = {
    'msrs': dict(dirs=('ir', 'vi', 'Segmentation_labels'), split_files=True,
                 classes=MSRS_CLASSES, class_map={name: name for name in MSRS_CLASSES}),
    'fmb': dict(dirs=('Infrared', 'Visible', 'Label'), split_files=False, classes=FMB_CLASSES,
                class_map={'car': 'car', 'person': 'person', 'bike': 'bicycle'}),
}


def class_lookup(layout: str) -> np.ndarray:
    """A 256-entry table from the scene's MSRS ids to the ids of ``layout``'s classes (255
    stays 255; classes without a counterpart become 0)."""
    spec = SYNTHETIC_LAYOUTS[layout]
    table = np.zeros(256, np.uint8)
    table[255] = 255
    for msrs_id, name in enumerate(MSRS_CLASSES):
        target = spec['class_map'].get(name)
        if target is not None:
            table[msrs_id] = spec['classes'].index(target)
    return table


def write_synthetic_dataset(out: str, num_train: int = 64, num_test: int = 32,
                            num_val: int = 8, seed: int = 0, height: int = 128,
                            width: int = 160, layout: str = 'msrs') -> dict:
    """Write the dataset and return its summary.

    ``layout='msrs'``: ``out/train/{ir,vi,Segmentation_labels}`` holds the training and
    validation pairs, listed in ``out/train.txt`` and ``out/val.txt`` (validation is a held-out
    part of the training folder, as users carve it out of MSRS); ``out/test/...`` and
    ``out/test.txt`` the test pairs.  File names follow MSRS: a 5-digit index and ``D`` (day) or
    ``N`` (night).

    ``layout='fmb'``: ``out/{train,test}/{Infrared,Visible,Label}`` with FMB's 15 classes (car,
    person and bike map to FMB's car, person and bicycle; the other synthetic classes become
    unlabelled).  FMB has no validation split and no split lists: ``num_val`` must be 0.

    ``out/synthetic.json`` records the parameters and the class pixel counts.
    """
    if layout not in SYNTHETIC_LAYOUTS:
        raise ValueError(f'unknown layout {layout!r}; the synthetic dataset can be written as '
                         f'{", ".join(SYNTHETIC_LAYOUTS)}')
    spec = SYNTHETIC_LAYOUTS[layout]
    if not spec['split_files']:
        num_val = 0
    if min(num_train, num_test) < 1 or num_val < 0:
        raise ValueError('need at least one training and one test image (and num_val >= 0)')
    classes = spec['classes']
    lookup = class_lookup(layout)
    plan = [('train', 'train', num_train), ('val', 'train', num_val), ('test', 'test', num_test)]
    summary = dict(generator='psfusion.data.synthetic', layout=layout, seed=seed, height=height,
                   width=width, classes=list(classes), splits={})
    for split, folder, count in plan:
        if not count:
            continue
        for sub in spec['dirs']:
            os.makedirs(os.path.join(out, folder, sub), exist_ok=True)
        stems, pixels, nights = [], np.zeros(len(classes), np.int64), 0
        for index in range(count):
            ir, vi, label, night = make_sample(seed, split, index, height, width)
            label = lookup[label]
            offset = {'train': 0, 'val': num_train, 'test': 0}[split]
            stem = f'{offset + index:05d}{"N" if night else "D"}'
            for sub, image in zip(spec['dirs'], (ir, vi, label)):
                save_png(image, os.path.join(out, folder, sub, stem + '.png'))
            stems.append(stem)
            pixels += np.bincount(label[label != 255].ravel(), minlength=len(classes))
            nights += int(night)
        if spec['split_files']:
            with open(os.path.join(out, f'{split}.txt'), 'w', encoding='utf-8') as handle:
                handle.write('\n'.join(stems) + '\n')
        summary['splits'][split] = dict(
            folder=folder, images=count, night=nights, day=count - nights,
            class_pixels={name: int(n) for name, n in zip(classes, pixels)})
    with open(os.path.join(out, 'synthetic.json'), 'w', encoding='utf-8') as handle:
        json.dump(summary, handle, indent=2)
    return summary
