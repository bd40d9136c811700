"""Checkpoints: named arrays in one canonical layout plus the specs and config, no pickle.

A checkpoint is a folder with ``arrays.npz`` (``<network>/<parameter>`` → array, in the
canonical layouts of `gancore.nn`) and ``meta.json`` (specs, config, step, data). It is
written to a temporary folder and renamed into place, so a crash never leaves half a
checkpoint. Any backend can load it, and numpy can sample from it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from gancore._errors import InvalidArgumentError
from gancore.architectures import ArchitecturePair, NativeArchitecture
from gancore.nn import NetworkSpec
from gancore.training._config import TrainConfig
from gancore.training._sampling import NumpyNetwork, generate, translate

__all__ = ["Checkpoint", "load_checkpoint", "save_checkpoint"]

FORMAT = 1
_ARRAYS = "arrays.npz"
_META = "meta.json"


def save_checkpoint(path: str | os.PathLike[str], trainer: Any) -> Path:
    """Write the trainer's networks, specs and config to the folder `path`, atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        f"{net_name}/{param}": np.asarray(value)
        for net_name, net in trainer.networks().items()
        for param, value in net.get_state().items()
    }
    arch = trainer.architecture
    data = getattr(trainer, "data", None) or getattr(trainer, "domain_a", None)
    meta = {
        "format": FORMAT,
        "gancore_version": _version(),
        "algorithm": trainer.algorithm,
        "backend": trainer.backend.name,
        "step": trainer.step,
        "architecture": {"name": arch.name, "kind": arch.kind, "latent_dim": arch.latent_dim,
                         "num_classes": arch.num_classes,
                         "packing": getattr(arch, "packing", 1),
                         "native": isinstance(arch, NativeArchitecture)},
        "specs": {name: spec.to_dict() for name, spec in trainer.specs().items()},
        "config": trainer.config.to_dict(),
        "data": None if data is None else {
            "name": data.name, "shape": list(data.shape), "num_classes": data.num_classes,
            "class_names": None if data.class_names is None else list(data.class_names),
        },
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        np.savez(tmp / _ARRAYS, **arrays)  # type: ignore[arg-type]
        (tmp / _META).write_text(json.dumps(meta, indent=2))
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _version() -> str:
    from gancore import __version__

    return __version__


@attrs.frozen
class Checkpoint:
    """A loaded checkpoint: metadata, specs, config and the arrays of each network."""

    path: Path
    meta: dict[str, Any]
    specs: dict[str, NetworkSpec]
    config: TrainConfig
    arrays: dict[str, dict[str, np.ndarray]]

    @property
    def architecture(self) -> ArchitecturePair | NativeArchitecture:
        """The architecture the checkpoint was trained with (a native one is rebuilt by
        its plugin, whose entry-point name is the architecture's name)."""
        info = self.meta["architecture"]
        if info.get("native"):
            from gancore.training._recipes import build_architecture

            return build_architecture(info["name"], tuple(self.meta["data"]["shape"]))
        return ArchitecturePair(
            name=info["name"], generator=self.specs["generator"], critic=self.specs["critic"],
            latent_dim=info["latent_dim"], num_classes=info["num_classes"], kind=info["kind"],
            packing=info.get("packing", 1),
        )

    def network(self, name: str = "generator", backend: str = "numpy",
                device: str = "auto") -> Any:
        """Network `name` built on `backend` (``numpy``: the reference, inference only);
        the EMA generator is used for ``generator`` when the checkpoint has one."""
        if name == "generator" and "generator_ema" in self.arrays:
            name = "generator_ema"
        if name not in self.arrays:
            raise InvalidArgumentError(
                f"network must be one of {', '.join(sorted(self.arrays))}; received {name!r}"
            )
        if self.meta["architecture"].get("native"):
            return self._native_network(name, backend, device)
        spec, state = self.specs[name], self.arrays[name]
        if backend == "numpy":
            return NumpyNetwork(spec, state)
        from gancore import backend as get_backend

        return get_backend(backend).build_network(spec, state, device)

    def _native_network(self, name: str, backend: str, device: str) -> Any:
        from gancore import backend as get_backend

        arch = self.architecture
        assert isinstance(arch, NativeArchitecture)
        be = get_backend(backend)
        target = be.resolve_device(device) if backend in arch.builders else None
        generator, critic = arch.build(backend, target)
        net = be.wrap_native(generator if name == "generator" else critic)
        net.set_state(self.arrays[name])
        return net

    def sample(self, n: int, *, backend: str = "numpy", labels: Any = None,
               seed: int | None = None, device: str = "auto") -> np.ndarray:
        """`n` samples from the generator on `backend`, as numpy (NHWC images in [-1, 1])."""
        from gancore import backend as get_backend

        arch = self.architecture
        if arch.kind == "cyclegan":
            raise InvalidArgumentError(
                "a CycleGAN checkpoint translates images: use Checkpoint.translate(images)"
            )
        be = get_backend(backend)
        return generate(be, self.network("generator", backend, device), arch, n, labels=labels,
                        seed=seed, device=device)

    def translate(self, images: np.ndarray, *, direction: str = "ab", backend: str = "numpy",
                  device: str = "auto") -> np.ndarray:
        """CycleGAN checkpoints: map images A→B (``'ab'``) or B→A (``'ba'``)."""
        from gancore import backend as get_backend

        if direction not in ("ab", "ba"):
            raise InvalidArgumentError(f"direction must be 'ab' or 'ba'; received {direction!r}")
        net = self.network("generator" if direction == "ab" else "generator_ba", backend, device)
        return translate(get_backend(backend), net, images, device=device)


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint folder written by any backend (no pickle is ever loaded)."""
    folder = Path(path)
    if not (folder / _META).is_file() or not (folder / _ARRAYS).is_file():
        raise InvalidArgumentError(
            f"path must be a gancore checkpoint folder (with {_META} and {_ARRAYS}); "
            f"received {str(folder)!r}"
        )
    meta = json.loads((folder / _META).read_text())
    if meta.get("format") != FORMAT:
        raise InvalidArgumentError(
            f"checkpoint format must be {FORMAT}; received {meta.get('format')!r} in {folder}"
        )
    arrays: dict[str, dict[str, np.ndarray]] = {}
    with np.load(folder / _ARRAYS, allow_pickle=False) as npz:
        for key in npz.files:
            net, _, param = key.partition("/")
            arrays.setdefault(net, {})[param] = npz[key]
    specs = {name: NetworkSpec.from_dict(d) for name, d in meta["specs"].items()}
    return Checkpoint(folder, meta, specs, TrainConfig.from_dict(meta["config"]), arrays)


