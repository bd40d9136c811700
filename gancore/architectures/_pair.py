"""`ArchitecturePair`: a generator spec and a critic spec that a trainer can use together.

The pair checks the conventions the trainer relies on when it is built, so a plugin's
architecture that breaks them fails with a message instead of deep inside a training step.
"""

from __future__ import annotations

from typing import Any

import attrs

from gancore._errors import InvalidArgumentError
from gancore.nn import NetworkSpec

__all__ = ["KINDS", "ArchitecturePair"]

#: What a pair is for: an unconditional GAN, a class-conditional GAN, a semi-supervised GAN
#: (the critic is a K-class classifier) or a CycleGAN (image-to-image, A -> B).
KINDS = ("gan", "conditional", "semi_supervised", "cyclegan")

Shape = tuple[int, ...]
_Signature = tuple[tuple[str, Shape, str], ...]


def _non_empty_str(inst: Any, attr: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(
            f"ArchitecturePair {attr.name} must be a non-empty str; received {value!r}"
        )


def _spec(inst: Any, attr: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, NetworkSpec):
        raise InvalidArgumentError(
            f"ArchitecturePair {attr.name} must be a gancore.nn.NetworkSpec; "
            f"received {type(value).__name__}"
        )


def _optional_int(low: int) -> Any:
    def check(inst: Any, attr: attrs.Attribute, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise InvalidArgumentError(
                f"ArchitecturePair {attr.name} must be None or an int >= {low}; received {value!r}"
            )

    return check


def _kind(inst: Any, attr: attrs.Attribute, value: Any) -> None:
    if value not in KINDS:
        allowed = ", ".join(repr(k) for k in KINDS)
        raise InvalidArgumentError(
            f"ArchitecturePair kind must be one of {allowed}; received {value!r}"
        )


def _packing(inst: Any, attr: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgumentError(
            f"ArchitecturePair packing must be an int >= 1; received {value!r}"
        )


def _signature(spec: NetworkSpec) -> _Signature:
    return tuple((i.name, i.shape, i.dtype) for i in spec.inputs)


def _describe(signature: _Signature) -> str:
    return ", ".join(f"{name} {shape} {dtype}" for name, shape, dtype in signature)


@attrs.frozen
class ArchitecturePair:
    """A generator and a critic, with what the trainer needs to know to feed them.

    Conventions, checked at construction:

    - generator inputs: `z` (latent_dim,) float32, then `labels` () int64 when `kind` is
      "conditional"; its output is one sample (NHWC image or feature vector). For
      "cyclegan" the generator's single input `x` has the shape of its output (it maps
      domain A to B; the trainer builds two copies of each spec with different seeds).
    - critic inputs: `x` of the sample shape, then `labels` when conditional. With
      `packing` m > 1 (PacGAN), `x` is m samples concatenated along the last axis and the
      trainer packs them.
    - critic output: raw scores (logits, no sigmoid) of shape (1,) or a patch map
      (h, w, 1); for "semi_supervised", (num_classes,) class logits, from which the
      trainer derives the real/fake logit as logsumexp (Salimans et al. 2016).
    - `latent_dim` is an int for every kind but "cyclegan" (None); `num_classes` is an int
      >= 2 for "conditional" and "semi_supervised", None otherwise.
    """

    name: str = attrs.field(validator=_non_empty_str)
    generator: NetworkSpec = attrs.field(validator=_spec)
    critic: NetworkSpec = attrs.field(validator=_spec)
    latent_dim: int | None = attrs.field(default=None, validator=_optional_int(1))
    num_classes: int | None = attrs.field(default=None, validator=_optional_int(2))
    kind: str = attrs.field(default="gan", validator=_kind)
    packing: int = attrs.field(default=1, validator=_packing)

    def __attrs_post_init__(self) -> None:
        where = f"ArchitecturePair {self.name!r} ({self.kind})"
        cyclegan = self.kind == "cyclegan"
        if cyclegan != (self.latent_dim is None):
            wanted = "None" if cyclegan else "an int >= 1"
            raise InvalidArgumentError(
                f"{where} latent_dim must be {wanted}; received {self.latent_dim!r}"
            )
        labelled = self.kind in ("conditional", "semi_supervised")
        if labelled != (self.num_classes is not None):
            wanted = "an int >= 2" if labelled else "None"
            raise InvalidArgumentError(
                f"{where} num_classes must be {wanted}; received {self.num_classes!r}"
            )
        if self.packing > 1 and self.kind != "gan":
            # One label or one class per packed group of m samples would mean nothing.
            raise InvalidArgumentError(
                f"{where} packing must be 1 unless kind is 'gan'; received {self.packing}"
            )
        sample = self.sample_shape
        labels: _Signature = (("labels", (), "int64"),) if self.kind == "conditional" else ()
        if self.latent_dim is None:  # cyclegan: the generator maps an image to an image
            first: tuple[str, Shape, str] = ("x", sample, "float32")
        else:
            first = ("z", (self.latent_dim,), "float32")
        self._expect(where, "generator", (first, *labels))
        packed = (*sample[:-1], sample[-1] * self.packing)
        self._expect(where, "critic", (("x", packed, "float32"), *labels))
        score = self.critic.output_shape
        if self.kind == "semi_supervised":
            if score != (self.num_classes,):
                raise InvalidArgumentError(
                    f"{where} critic output must be class logits of shape "
                    f"({self.num_classes},); received {score}"
                )
        elif score != (1,) and not (len(score) == 3 and score[-1] == 1):
            raise InvalidArgumentError(
                f"{where} critic output must be scores of shape (1,) or a patch map "
                f"(h, w, 1); received {score}"
            )

    def _expect(self, where: str, role: str, expected: _Signature) -> None:
        spec: NetworkSpec = getattr(self, role)
        if _signature(spec) != expected:
            raise InvalidArgumentError(
                f"{where} {role} inputs must be ({_describe(expected)}); "
                f"received ({_describe(_signature(spec))})"
            )

    @property
    def sample_shape(self) -> Shape:
        """Shape of one generated sample (the generator's output)."""
        return self.generator.output_shape

    @property
    def score_shape(self) -> Shape:
        """Shape of the critic's output for one (packed) sample."""
        return self.critic.output_shape

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; `ArchitecturePair.from_dict` rebuilds an equal pair."""
        return {
            "name": self.name,
            "kind": self.kind,
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "packing": self.packing,
            "generator": self.generator.to_dict(),
            "critic": self.critic.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArchitecturePair:
        """The pair a `to_dict()` dict describes (validated like any other)."""
        if not isinstance(d, dict):
            raise InvalidArgumentError(
                f"architecture pair must be a dict; received {type(d).__name__}"
            )
        try:
            return cls(
                name=d["name"],
                generator=NetworkSpec.from_dict(d["generator"]),
                critic=NetworkSpec.from_dict(d["critic"]),
                latent_dim=d.get("latent_dim"),
                num_classes=d.get("num_classes"),
                kind=d.get("kind", "gan"),
                packing=d.get("packing", 1),
            )
        except KeyError as e:
            raise InvalidArgumentError(
                f"architecture pair dict must have name, generator and critic as written by "
                f"ArchitecturePair.to_dict; received keys {sorted(d)}"
            ) from e
