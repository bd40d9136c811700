"""`DiffAugment`: colour, translation and cutout with numpy-drawn parameters."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from gancore._backend import ops_for
from gancore._errors import InvalidArgumentError

__all__ = ["POLICIES", "DiffAugment"]

#: The augmentations, applied in this order when asked for.
POLICIES = ("color", "translation", "cutout")


def _policy(value: Any) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value)
    if not items or any(p not in POLICIES for p in items) or len(set(items)) != len(items):
        allowed = ", ".join(repr(p) for p in POLICIES)
        raise InvalidArgumentError(
            f"DiffAugment policy must be distinct names among {allowed}; received {value!r}"
        )
    return tuple(p for p in POLICIES if p in items)


def _ratio(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise InvalidArgumentError(
            f"DiffAugment {attribute.name} must be a number in [0, 1]; received {value!r}"
        )


@attrs.frozen
class DiffAugment:
    """DiffAugment's policy, with its paper's meaning (the reference code's arithmetic):

    - "color": per sample, brightness x + (b - 0.5), saturation (x - m_c) * 2s + m_c
      around the mean over channels, contrast (x - m) * (c + 0.5) + m around the mean over
      the whole image; b, s, c ~ U(0, 1).
    - "translation": each sample shifted by integers in [-t, t] rows and columns,
      t = round(translation_ratio * side), out[i] = x[i + shift], zeros shifted in.
    - "cutout": per sample, a square of round(cutout_ratio * side) rows and columns set to 0,
      centred uniformly (clipped at the edges).
    """

    policy: tuple[str, ...] = attrs.field(default=POLICIES, converter=_policy)
    translation_ratio: float = attrs.field(default=0.125, validator=_ratio)
    cutout_ratio: float = attrs.field(default=0.5, validator=_ratio)

    def draw(self, rng: np.random.Generator, batch: int,
             image_shape: tuple[int, int, int]) -> dict[str, np.ndarray]:
        """The random parameters for a batch of NHWC images (float32 arrays by name):
        `brightness`, `saturation`, `contrast` (N, 1, 1, 1); `rows` (N, H, H) and `cols`
        (N, W, W) one-hot shift matrices, `cols_t` the transposed `cols`; `mask`
        (N, H, W, 1)."""
        h, w, _ = image_shape
        out: dict[str, np.ndarray] = {}
        if "color" in self.policy:
            for name in ("brightness", "saturation", "contrast"):
                out[name] = rng.uniform(size=(batch, 1, 1, 1))
        if "translation" in self.policy:
            for name, side in (("rows", h), ("cols", w)):
                t = int(side * self.translation_ratio + 0.5)
                shift = rng.integers(-t, t + 1, size=batch)
                source = np.arange(side)[None, :, None] + shift[:, None, None]
                out[name] = (np.arange(side)[None, None, :] == source).astype(np.float64)
            out["cols_t"] = out["cols"].transpose(0, 2, 1)
        if "cutout" in self.policy:
            mask = np.ones((batch, h, w, 1))
            size_h, size_w = int(h * self.cutout_ratio + 0.5), int(w * self.cutout_ratio + 0.5)
            oy = rng.integers(0, h + (1 - size_h % 2), size=batch)
            ox = rng.integers(0, w + (1 - size_w % 2), size=batch)
            for n in range(batch):
                rows = np.clip(np.arange(size_h) + oy[n] - size_h // 2, 0, h - 1)
                cols = np.clip(np.arange(size_w) + ox[n] - size_w // 2, 0, w - 1)
                mask[n, rows[:, None], cols[None, :]] = 0.0
            out["mask"] = mask
        return {k: v.astype(np.float32) for k, v in out.items()}

    def apply(self, x: Any, params: dict[str, Any], channels_first: bool = False) -> Any:
        """The augmented batch `x` (NHWC, or NCHW with `channels_first`, torch's layout
        inside a network) for parameters from `draw`, given as arrays of `x`'s backend
        (a backend's `to_native` puts `mask` in its image layout)."""
        ops = ops_for([("x", x)])
        n, *rest = ops.shape(x)
        c_axis = 1 if channels_first else 3
        h, w = (rest[1], rest[2]) if channels_first else (rest[0], rest[1])
        if "color" in self.policy:
            x = x + (params["brightness"] - 0.5)
            plane = [n, 1, h, w] if channels_first else [n, h, w, 1]
            m = ops.reshape(ops.mean(x, axis=c_axis), plane)
            x = (x - m) * (params["saturation"] * 2.0) + m
            m = ops.reshape(ops.mean(x, axis=(1, 2, 3)), [n, 1, 1, 1])
            x = (x - m) * (params["contrast"] + 0.5) + m
        if "translation" in self.policy:
            # One-hot shift matrices: every output is one input times 1, exactly.
            if channels_first:
                x = ops.reshape(params["rows"], [n, 1, h, h]) @ x
                x = x @ ops.reshape(params["cols_t"], [n, 1, w, w])
            else:
                x = ops.reshape(params["rows"] @ ops.reshape(x, [n, h, -1]), [n, h, w, -1])
                x = ops.reshape(params["cols"], [n, 1, w, w]) @ x
        if "cutout" in self.policy:
            x = x * params["mask"]
        return x
