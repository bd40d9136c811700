"""What a checkpoint's files must hold, checked before anything is built from them.

A checkpoint is input: it may come from another machine, another version or a stranger.
`meta.json` decides what is allocated (noise of ``latent_dim``, networks of its specs, a
native plugin's modules for its sample shape), so every field gancore uses is checked for
its type and against `CheckpointLimits` first; the specs then give the exact name, shape and
dtype of every array ``arrays.npz`` must hold, and those are checked on each array's header
before its data is read (`gancore.data._npy.read_npz`). Every refusal is a
`CheckpointError` naming the file, the field and what it holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from gancore._errors import CheckpointError, GancoreError
from gancore.architectures import KINDS, ArchitecturePair
from gancore.data._limits import (
    MAX_CHECKPOINT_BYTES,
    MAX_CLASSES,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    MAX_LATENT_DIM,
    MAX_SAMPLE_VALUES,
    check_limit,
)
from gancore.nn import NetworkSpec, parameter_shapes
from gancore.training._config import ALGORITHMS, TrainConfig

__all__ = ["CheckpointLimits", "ArrayExpectations", "check_meta", "check_state_document"]

#: The networks a portable checkpoint holds for each kind of architecture (the EMA copy of
#: the generator may be there too).
_NETWORKS = {"cyclegan": ("generator", "generator_ba", "critic_a", "critic")}
_DEFAULT_NETWORKS = ("generator", "critic")
_OPTIONAL_NETWORKS = ("generator_ema",)


def _limit(inst: Any, attr: attrs.Attribute, value: Any) -> None:
    check_limit(value, attr.name)


@attrs.frozen
class CheckpointLimits:
    """The most a checkpoint may declare before `load_checkpoint` allocates for it.

    ``max_bytes``: the data of ``arrays.npz``, and of ``state.npz``, each summed over its
    arrays as their headers declare them (`MAX_CHECKPOINT_BYTES`, 2 GiB).
    ``max_json_bytes`` and ``max_json_depth``: the size and nesting of ``meta.json`` and
    ``state.json`` (16 MiB, 32). ``max_latent_dim`` (65,536), ``max_sample_values`` (values in
    one sample, 2**22) and ``max_classes`` (65,536): what ``meta.json`` may declare.
    Raise one with ``attrs.evolve(CheckpointLimits(), max_bytes=8 << 30)``.
    """

    max_bytes: int = attrs.field(default=MAX_CHECKPOINT_BYTES, validator=_limit)
    max_json_bytes: int = attrs.field(default=MAX_JSON_BYTES, validator=_limit)
    max_json_depth: int = attrs.field(default=MAX_JSON_DEPTH, validator=_limit)
    max_latent_dim: int = attrs.field(default=MAX_LATENT_DIM, validator=_limit)
    max_sample_values: int = attrs.field(default=MAX_SAMPLE_VALUES, validator=_limit)
    max_classes: int = attrs.field(default=MAX_CLASSES, validator=_limit)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({type(value).__name__})"


class _Fields:
    """Field checks of one JSON document, with messages that name it."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, field: str, wanted: str, value: Any) -> CheckpointError:
        return CheckpointError(
            f"checkpoint file {str(self.source)!r}: {field} must be {wanted}; received "
            f"{_shown(value)}"
        )

    def get(self, doc: Mapping[str, Any], key: str, field: str, default: Any = ...) -> Any:
        if key in doc:
            return doc[key]
        if default is ...:
            raise CheckpointError(
                f"checkpoint file {str(self.source)!r}: {field} is missing"
            )
        return default

    def mapping(self, doc: Mapping[str, Any], key: str, field: str,
                default: Any = ...) -> Any:
        value = self.get(doc, key, field, default)
        if value is not default and not isinstance(value, dict):
            raise self.fail(field, "an object", value)
        return value

    def integer(self, doc: Mapping[str, Any], key: str, field: str, low: int, high: int,
                default: Any = ..., none: bool = False) -> Any:
        value = self.get(doc, key, field, default)
        if value is None and none:
            return None
        if value is default and default is not ...:
            return value
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            wanted = f"an int in [{low}, {high}]" + (" or null" if none else "")
            raise self.fail(field, wanted, value)
        return value

    def string(self, doc: Mapping[str, Any], key: str, field: str,
               choices: tuple[str, ...] = (), default: Any = ...) -> Any:
        value = self.get(doc, key, field, default)
        if value is default and default is not ...:
            return value
        if choices and value not in choices:
            raise self.fail(field, f"one of {', '.join(map(repr, choices))}", value)
        if not isinstance(value, str) or not value:
            raise self.fail(field, "a non-empty string", value)
        return value

    def shape(self, value: Any, field: str, limits: CheckpointLimits) -> tuple[int, ...]:
        if (not isinstance(value, list) or not 1 <= len(value) <= 3
                or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1
                           for d in value)):
            raise self.fail(field, "a list of 1 to 3 ints >= 1", value)
        if math.prod(value) > limits.max_sample_values:
            raise self.fail(field, f"a shape of at most {limits.max_sample_values} values "
                            f"(CheckpointLimits.max_sample_values)", value)
        return tuple(value)


@attrs.frozen
class ArrayExpectations:
    """What ``arrays.npz`` must hold: each array's name, shape and dtype (portable
    checkpoints), or only its network (native ones, whose layouts are the plugin's)."""

    source: Path
    shapes: dict[str, tuple[int, ...]] | None
    networks: tuple[str, ...]

    def check(self, key: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """Raise unless the header of array `key` is what the specs declare."""
        net, _, param = key.partition("/")
        if not param or net not in self.networks:
            raise CheckpointError(
                f"array names must be <network>/<parameter> with network one of "
                f"{', '.join(self.networks)}; received {key!r}"
            )
        if self.shapes is None:  # native: the plugin's module checks it once it is built
            if dtype.kind not in "biuf":
                raise CheckpointError(f"{key} must hold real numbers; received {dtype}")
            return
        if key not in self.shapes:
            raise CheckpointError(
                f"{key} is no parameter of network {net!r} in meta.json's specs"
            )
        if dtype.newbyteorder("=") != np.float32:  # either byte order: read losslessly
            # Weights are float32 on every backend; another dtype would be cast, losing
            # what float32 cannot hold (an imaginary part, float64 precision, int8 ranges).
            raise CheckpointError(f"{key} must be float32; received {dtype}")
        if shape != self.shapes[key]:
            raise CheckpointError(
                f"{key} must have shape {self.shapes[key]} (meta.json's spec); received {shape}"
            )

    def complete(self, arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
        """The arrays grouped by network, after checking nothing is missing and every value
        is finite (gancore never writes nan or inf weights)."""
        name = f"checkpoint file {str(self.source)!r}"
        if self.shapes is not None:
            missing = [k for k in self.shapes if k not in arrays]
            if missing:
                more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
                raise CheckpointError(
                    f"{name} lacks {', '.join(missing[:3])}{more}, which meta.json's specs "
                    f"declare"
                )
        grouped: dict[str, dict[str, np.ndarray]] = {}
        for key, value in arrays.items():
            if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                bad = "nan" if np.isnan(value).any() else "inf"
                raise CheckpointError(
                    f"{name}: {key} holds {bad}; gancore never writes non-finite weights, so "
                    f"the checkpoint is corrupt and cannot sample"
                )
            net, _, param = key.partition("/")
            grouped.setdefault(net, {})[param] = value
        needed = [n for n in self.networks if n not in _OPTIONAL_NETWORKS]
        absent = [n for n in needed if n not in grouped]
        if absent:
            raise CheckpointError(f"{name} holds no arrays of network {', '.join(absent)}")
        return grouped


def check_meta(meta: Any, source: Path, arrays_file: Path, limits: CheckpointLimits,
               readable: tuple[int, ...]
               ) -> tuple[dict[str, NetworkSpec], TrainConfig, ArrayExpectations]:
    """Check every field of ``meta.json`` (`source`) that gancore uses, build the specs and
    the config, and say what `arrays_file` must hold; a `CheckpointError` names the first
    bad field."""
    f = _Fields(source)
    if not isinstance(meta, dict):
        raise f.fail("the document", "an object", meta)
    f.integer(meta, "format", "format", min(readable), max(readable))
    f.string(meta, "gancore_version", "gancore_version", default=None)
    f.string(meta, "algorithm", "algorithm", ALGORITHMS, default=None)
    f.string(meta, "backend", "backend", default=None)
    f.integer(meta, "step", "step", 0, 2**63 - 1, default=0)
    arch = f.mapping(meta, "architecture", "architecture")
    f.string(arch, "name", "architecture.name")
    kind = f.string(arch, "kind", "architecture.kind", KINDS)
    f.integer(arch, "latent_dim", "architecture.latent_dim", 1, limits.max_latent_dim,
              none=True)
    f.integer(arch, "num_classes", "architecture.num_classes", 2, limits.max_classes,
              none=True)
    f.integer(arch, "packing", "architecture.packing", 1, 1024, default=1)
    native = f.get(arch, "native", "architecture.native", False)
    if not isinstance(native, bool):
        raise f.fail("architecture.native", "true or false", native)
    data = f.get(meta, "data", "data", None)
    if data is not None:
        _check_data(f, data, limits)
    specs_doc = f.mapping(meta, "specs", "specs")
    config = _config(f, f.mapping(meta, "config", "config"))
    if native:
        if data is None:
            raise f.fail("data", "an object with the sample shape (a native architecture "
                         "is rebuilt for it)", data)
        return {}, config, ArrayExpectations(arrays_file, None, (*_DEFAULT_NETWORKS,
                                                                  *_OPTIONAL_NETWORKS))
    networks = _NETWORKS.get(kind, _DEFAULT_NETWORKS)
    allowed = (*networks, *_OPTIONAL_NETWORKS)
    unknown = sorted(set(specs_doc) - set(allowed))
    missing = [n for n in networks if n not in specs_doc]
    if unknown or missing:
        raise f.fail("specs", f"an object of the networks {', '.join(networks)} (and "
                     f"optionally {', '.join(_OPTIONAL_NETWORKS)}) for a {kind!r} architecture",
                     sorted(specs_doc))
    specs = {name: _spec(f, name, value) for name, value in specs_doc.items()}
    shapes: dict[str, tuple[int, ...]] = {}
    for name, spec in specs.items():
        shapes.update({f"{name}/{p}": shape for p, shape in parameter_shapes(spec).items()})
    nbytes = 4 * sum(math.prod(s) for s in shapes.values())
    if nbytes > limits.max_bytes:
        raise f.fail("specs", f"networks of at most {limits.max_bytes} bytes of float32 "
                     f"weights (CheckpointLimits.max_bytes)", f"{nbytes} bytes")
    _pair(f, arch, specs, limits)
    return specs, config, ArrayExpectations(arrays_file, shapes, allowed)


def _check_data(f: _Fields, data: Any, limits: CheckpointLimits) -> None:
    if not isinstance(data, dict):
        raise f.fail("data", "an object or null", data)
    f.string(data, "name", "data.name")
    f.shape(f.get(data, "shape", "data.shape"), "data.shape", limits)
    f.integer(data, "num_classes", "data.num_classes", 1, limits.max_classes, default=None,
              none=True)
    names = f.get(data, "class_names", "data.class_names", None)
    if names is not None and (not isinstance(names, list) or len(names) > limits.max_classes
                              or not all(isinstance(n, str) for n in names)):
        raise f.fail("data.class_names", f"null or a list of at most {limits.max_classes} "
                     f"strings", names)
    prints = f.get(data, "fingerprints", "data.fingerprints", [])
    if not isinstance(prints, list) or not all(isinstance(p, str) for p in prints):
        raise f.fail("data.fingerprints", "a list of strings", prints)


def _config(f: _Fields, doc: dict[str, Any]) -> TrainConfig:
    for key in ("generator_optimizer", "critic_optimizer"):
        f.mapping(doc, key, f"config.{key}", None)
    try:
        return TrainConfig.from_dict(doc)
    except GancoreError as e:
        raise CheckpointError(f"checkpoint file {str(f.source)!r}: config: {e}") from None
    except (TypeError, ValueError) as e:
        raise f.fail("config", "a training config as TrainConfig.to_dict writes it",
                     f"{type(e).__name__}: {e}") from None


def _spec(f: _Fields, name: str, doc: Any) -> NetworkSpec:
    if not isinstance(doc, dict):
        raise f.fail(f"specs.{name}", "an object", doc)
    try:
        return NetworkSpec.from_dict(doc)
    except GancoreError as e:
        raise CheckpointError(
            f"checkpoint file {str(f.source)!r}: specs.{name} is not a valid network: {e}"
        ) from None
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
        raise f.fail(f"specs.{name}", "a network as NetworkSpec.to_dict writes it",
                     f"{type(e).__name__}: {e}") from None


def _pair(f: _Fields, arch: dict[str, Any], specs: dict[str, NetworkSpec],
          limits: CheckpointLimits) -> None:
    """The generator and critic must make the architecture meta.json declares."""
    generator = specs["generator"]
    values = math.prod(generator.output_shape)
    if values > limits.max_sample_values:
        raise f.fail("specs.generator", f"a generator of samples of at most "
                     f"{limits.max_sample_values} values (CheckpointLimits.max_sample_values)",
                     generator.output_shape)
    try:
        ArchitecturePair(name=arch["name"], generator=generator, critic=specs["critic"],
                         latent_dim=arch["latent_dim"], num_classes=arch["num_classes"],
                         kind=arch["kind"], packing=arch.get("packing", 1))
    except GancoreError as e:
        raise CheckpointError(
            f"checkpoint file {str(f.source)!r}: architecture and specs disagree: {e}"
        ) from None


def check_state_document(document: Any, source: Path) -> dict[str, dict[str, Any]]:
    """``state.json``: an object of components (names without ``/``), each an object."""
    f = _Fields(source)
    if not isinstance(document, dict):
        raise f.fail("the document", "an object of state components", document)
    for name, component in document.items():
        if "/" in name or not name:
            raise f.fail("component names", "non-empty and without '/'", name)
        if not isinstance(component, dict):
            raise f.fail(f"component {name!r}", "an object", component)
    loop = f.mapping(document, "loop", "component 'loop'")
    f.integer(loop, "step", "loop.step", 0, 2**63 - 1)
    history = f.get(loop, "history", "loop.history")
    if not isinstance(history, list) or not all(
        isinstance(h, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                    for v in h.values()) for h in history):
        raise f.fail("loop.history", "a list of objects of numbers", history)
    f.mapping(loop, "rng", "loop.rng")
    return document
