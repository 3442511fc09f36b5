"""Flags drawn with PIL: one canonical rendering per country and as many others as wanted.

A rendering is a pure function of (flag, variant, size). Variant 0 is the flag upright, centred, on grey; every
other variant moves, scales and turns it, changes the background and the light, and adds noise, drawn from a
random generator seeded by the variant and the design, so two renderings of one flag are different images of the
same thing and the model cannot recognise a flag by its pixels' positions alone. Drawing is done at four times the
size and reduced, so edges are smooth at 32 pixels.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

from amend.testbeds.vision_world.generator import COLOURS, Flag

SUPERSAMPLE = 4
CANONICAL_BACKGROUND = (128, 128, 128)


def _flag_canvas(flag: Flag, width: int, height: int) -> Image.Image:
    canvas = Image.new("RGBA", (width, height))
    draw = ImageDraw.Draw(canvas)
    count = len(flag.stripes)
    for index, colour in enumerate(flag.stripes):
        if flag.layout == "horizontal":
            box = (0, index * height // count, width, (index + 1) * height // count)
        else:
            box = (index * width // count, 0, (index + 1) * width // count, height)
        draw.rectangle(box, fill=(*COLOURS[colour], 255))
    if flag.emblem != "none":
        _emblem(draw, flag.emblem, (*COLOURS[flag.emblem_colour], 255), width / 2, height / 2, height * 0.28)
    return canvas


def _emblem(draw: ImageDraw.ImageDraw, shape: str, fill: tuple[int, ...], x: float, y: float, r: float) -> None:
    if shape == "circle":
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    elif shape == "square":
        draw.rectangle((x - r * 0.85, y - r * 0.85, x + r * 0.85, y + r * 0.85), fill=fill)
    elif shape == "triangle":
        draw.polygon([(x, y - r), (x + r, y + r * 0.8), (x - r, y + r * 0.8)], fill=fill)
    elif shape == "diamond":
        draw.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill=fill)
    elif shape == "cross":
        draw.rectangle((x - r, y - r * 0.3, x + r, y + r * 0.3), fill=fill)
        draw.rectangle((x - r * 0.3, y - r, x + r * 0.3, y + r), fill=fill)
    else:
        raise ValueError(f"unknown emblem {shape!r}")


def render(flag: Flag, variant: int = 0, size: int = 32) -> Image.Image:
    """Rendering ``variant`` of ``flag`` as a ``size`` × ``size`` RGB image."""
    big = size * SUPERSAMPLE
    rng = random.Random(f"{variant}:{flag}")
    canonical = variant == 0
    scale = 1.0 if canonical else rng.uniform(0.7, 1.0)
    width = int(big * 0.8 * scale)
    flag_image = _flag_canvas(flag, width, int(width * 2 / 3))
    if not canonical:
        flag_image = flag_image.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BICUBIC, expand=True)
    background = CANONICAL_BACKGROUND if canonical else tuple(rng.randint(60, 200) for _ in range(3))
    canvas = Image.new("RGBA", (big, big), (*background, 255))
    shift = 0 if canonical else big // 8
    x = (big - flag_image.width) // 2 + rng.randint(-shift, shift)
    y = (big - flag_image.height) // 2 + rng.randint(-shift, shift)
    canvas.alpha_composite(flag_image, (x, y))
    image = canvas.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    if canonical:
        return image
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.85, 1.15))
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, rng.uniform(0, 8), (size, size, 3))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8))


def blank(size: int = 32, colour: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """An image of one colour: BalancEdit's negative sample (black in its paper)."""
    return Image.new("RGB", (size, size), colour)
