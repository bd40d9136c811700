"""Checkpoints: named arrays in one canonical layout plus JSON, no pickle.

A checkpoint is a folder:

- ``arrays.npz``: ``<network>/<parameter>`` -> array, in the canonical layouts of
  `gancore.nn` (every backend, and numpy, samples from it);
- ``meta.json``: format, specs, config, step, the data's name, shape and fingerprint;
- ``state.npz`` and ``state.json`` (format 2): the rest of the training state
  (`gancore.training._state`): optimizers, random streams, data position, history, pools,
  callbacks. With them a run resumes exactly; without them (format 1) a checkpoint still
  samples and loads weights.

Every file is written and flushed to disk in a temporary folder, which is then renamed into
place: a crash (kill -9 included) leaves either the old checkpoint or the new one, never
half of one. A run folder keeps step-numbered checkpoints under ``checkpoints/`` and a link
``checkpoint`` to the latest (`write_run_checkpoint`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from gancore._errors import CheckpointError, InvalidArgumentError, NonFiniteError
from gancore.architectures import ArchitecturePair, NativeArchitecture
from gancore.data._json import read_json
from gancore.data._limits import MAX_SAMPLE_BYTES, check_limit
from gancore.data._npy import read_npz
from gancore.nn import NetworkSpec
from gancore.training import _state
from gancore.training._checkpoint_checks import (
    CheckpointLimits,
    check_meta,
    check_state_document,
)
from gancore.training._config import TrainConfig
from gancore.training._sampling import NumpyNetwork, generate, translate

__all__ = ["Checkpoint", "CheckpointLimits", "check_sample_count", "latest_checkpoint",
           "load_checkpoint", "save_checkpoint", "write_run_checkpoint"]

FORMAT = 2
#: Formats this version reads: format 1 (weights only) samples and loads, never resumes.
READABLE_FORMATS = (1, 2)
_ARRAYS = "arrays.npz"
_META = "meta.json"
_STATE_ARRAYS = "state.npz"
_STATE = "state.json"
#: The run folder's numbered checkpoints and the link to the latest one.
CHECKPOINTS = "checkpoints"
LATEST = "checkpoint"
_STEP_DIR = re.compile(r"^step-(\d{8,})$")


def save_checkpoint(path: str | os.PathLike[str], trainer: Any) -> Path:
    """Write the trainer's whole state (networks, optimizers, random streams, data position,
    history) to the folder `path`, atomically. Refuses (`NonFiniteError`) to write weights
    or optimizer moments holding nan or inf, so a diverged run never replaces a good
    checkpoint."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_folder(target.parent, trainer)
    try:
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _contents(trainer: Any) -> tuple[dict[str, np.ndarray], dict[str, Any],
                                     dict[str, np.ndarray], dict[str, Any]]:
    arrays = {
        f"{net_name}/{param}": np.asarray(value)
        for net_name, net in trainer.networks().items()
        for param, value in net.get_state().items()
    }
    state_arrays, state_doc = _state.split(_state.capture(trainer))
    _state.check_finite_state(arrays, trainer.step)
    _state.check_finite_state(state_arrays, trainer.step)
    arch = trainer.architecture
    datasets = trainer.datasets()
    data = datasets[0] if datasets else None
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
            "fingerprints": trainer.data_fingerprints(),
        },
    }
    return arrays, meta, state_arrays, state_doc


def _write_folder(parent: Path, trainer: Any) -> Path:
    """The checkpoint's files, complete and on disk, in a new hidden folder of `parent`."""
    arrays, meta, state_arrays, state_doc = _contents(trainer)
    # os.mkdir, unlike tempfile.mkdtemp, keeps the umask's permissions: teammates can read
    # a run's checkpoints.
    tmp = parent / f".tmp-{os.getpid()}-{secrets.token_hex(4)}"
    os.mkdir(tmp)
    try:
        _write(tmp / _ARRAYS, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]
        _write(tmp / _STATE_ARRAYS, lambda f: np.savez(f, **state_arrays))  # type: ignore[arg-type]
        _write(tmp / _STATE, lambda f: f.write(json.dumps(state_doc).encode()))
        # meta.json last: a folder that has it has everything.
        _write(tmp / _META, lambda f: f.write(json.dumps(meta, indent=2).encode()))
        _fsync_dir(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def _write(path: Path, fill: Any) -> None:
    with open(path, "wb") as f:
        fill(f)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    # A rename is durable once its folder is flushed (POSIX; a no-op where folders can't be
    # opened).
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_run_checkpoint(run_dir: str | os.PathLike[str], trainer: Any, keep: int = 3) -> Path:
    """Write ``checkpoints/step-<step>`` in the run folder, point ``checkpoint`` at it, and
    delete all but the newest `keep` numbered checkpoints. At every moment the folder holds
    a complete checkpoint, the latest one that finished writing."""
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        raise InvalidArgumentError(f"keep_checkpoints must be an int >= 1; received {keep!r}")
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    tmp = _write_folder(root, trainer)
    target = root / f"step-{trainer.step:08d}"
    try:
        if target.exists():
            # The same step again (a run resumed from an earlier checkpoint, or retrained
            # after --overwrite): the newer state wins; older checkpoints stay meanwhile.
            trash = root / f".trash-{target.name}-{os.getpid()}"
            os.replace(target, trash)
            os.replace(tmp, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, target)
        _fsync_dir(root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _point_latest(Path(run_dir), target)
    steps = sorted(_numbered(root))
    for _, old in steps[:-keep]:
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return target


def _point_latest(run_dir: Path, target: Path) -> None:
    link = run_dir / LATEST
    if link.exists() and not link.is_symlink():
        raise CheckpointError(
            f"{link} is a folder of an older gancore version, not a link to the latest "
            f"checkpoint: move it away or train with --overwrite"
        )
    tmp = run_dir / f".{LATEST}.tmp-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(os.path.relpath(target, run_dir), tmp)
    os.replace(tmp, link)  # atomic: the link names the old checkpoint or the new one
    _fsync_dir(run_dir)


def _numbered(root: Path) -> list[tuple[int, Path]]:
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and (child / _META).is_file():
            found.append((int(match.group(1)), child))
    return found


def latest_checkpoint(run_dir: str | os.PathLike[str], clean: bool = True) -> Path | None:
    """The newest complete checkpoint of a run folder (``checkpoints/step-*``, else a
    ``checkpoint`` folder of format 1), or None. Leftovers of a killed write are removed
    (unless not `clean`: a reader that must not write, like a data-parallel job's other
    workers)."""
    run = Path(run_dir)
    root = run / CHECKPOINTS
    if root.is_dir() and clean:
        for leftover in root.glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in root.glob(".trash-*"):
            # A kill while a step's checkpoint was being replaced: put the old one back.
            name = leftover.name[len(".trash-"):].rpartition("-")[0]
            if not (root / name).exists() and (leftover / _META).is_file():
                os.replace(leftover, root / name)
            else:
                shutil.rmtree(leftover, ignore_errors=True)
    found = sorted(_numbered(root))
    if found:
        return found[-1][1]
    legacy = run / LATEST
    if (legacy / _META).is_file():
        return legacy
    return None


def _version() -> str:
    from gancore import __version__

    return __version__


@attrs.frozen
class Checkpoint:
    """A loaded checkpoint: metadata, specs, config and the arrays of each network (all
    checked by `load_checkpoint`), and the limits it was read with."""

    path: Path
    meta: dict[str, Any]
    specs: dict[str, NetworkSpec]
    config: TrainConfig
    arrays: dict[str, dict[str, np.ndarray]]
    limits: CheckpointLimits = attrs.field(factory=CheckpointLimits)

    @property
    def architecture(self) -> ArchitecturePair | NativeArchitecture:
        """The architecture the checkpoint was trained with (a native one is rebuilt by
        its plugin, whose entry-point name is the architecture's name)."""
        info = self.meta["architecture"]
        if info.get("native"):
            return self._native_architecture(info)
        return ArchitecturePair(
            name=info["name"], generator=self.specs["generator"], critic=self.specs["critic"],
            latent_dim=info["latent_dim"], num_classes=info["num_classes"], kind=info["kind"],
            packing=info.get("packing", 1),
        )

    def _native_architecture(self, info: dict[str, Any]) -> NativeArchitecture:
        from gancore.training._recipes import build_architecture

        shape = tuple(self.meta["data"]["shape"])
        classes = info.get("num_classes")
        options = {} if classes is None else {"num_classes": classes}
        arch = build_architecture(info["name"], shape, options)
        where = f"checkpoint {str(self.path)!r}"
        if not isinstance(arch, NativeArchitecture):
            raise CheckpointError(
                f"{where} declares a native architecture {info['name']!r}, but that "
                f"architecture builds portable specs (its checkpoints hold them); the "
                f"checkpoint is corrupt or of another architecture"
            )
        for field, saved, built in (("latent_dim", info["latent_dim"], arch.latent_dim),
                                    ("sample shape", shape, tuple(arch.sample_shape)),
                                    ("num_classes", classes, arch.num_classes)):
            if saved != built:
                raise CheckpointError(
                    f"{where} was written by architecture {info['name']!r} with {field} "
                    f"{saved!r}; the installed plugin builds {built!r}"
                )
        return arch

    @property
    def step(self) -> int:
        """The generator steps the run had made when it was written."""
        return int(self.meta.get("step", 0))

    @property
    def resumable(self) -> bool:
        """Whether it holds the whole training state (format 2), not only weights."""
        return self.meta.get("format", 1) >= 2 and (self.path / _STATE).is_file()

    def training_state(self) -> dict[str, dict[str, Any]]:
        """The training state beside the weights (`gancore.training._state`), read from
        ``state.json`` and ``state.npz`` (bounded like the weights: `CheckpointLimits`)."""
        if not self.resumable:
            raise CheckpointError(
                f"checkpoint {self.path} holds weights only (format "
                f"{self.meta.get('format', 1)}, written by gancore "
                f"{self.meta.get('gancore_version', '< 0.2')}): it samples and loads weights "
                f"(Trainer.load_state), but has no optimizer, random or data state to resume "
                f"a run from"
            )
        limits = self.limits
        source = self.path / _STATE
        document = check_state_document(
            read_json(source, what="checkpoint file", max_bytes=limits.max_json_bytes,
                      max_depth=limits.max_json_depth, error=CheckpointError), source)

        def component_of(key: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
            if key.partition("/")[0] not in document:
                raise CheckpointError(
                    f"array names must be <component>/<key> with a component of "
                    f"{_STATE}; received {key!r}"
                )

        arrays = read_npz(self.path / _STATE_ARRAYS, max_bytes=limits.max_bytes,
                          check=component_of, what="checkpoint file", error=CheckpointError,
                          limit_name="CheckpointLimits.max_bytes")
        return _state.merge(arrays, document, source=str(self.path))

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

        arch = self._native_architecture(self.meta["architecture"])
        if backend != self.meta.get("backend"):
            raise CheckpointError(
                f"checkpoint {str(self.path)!r} of native architecture {arch.name!r} holds "
                f"its modules' own state on backend {self.meta.get('backend')!r}; it loads "
                f"there only, received backend {backend!r}"
            )
        be = get_backend(backend)
        target = be.resolve_device(device) if backend in arch.builders else None
        generator, critic = arch.build(backend, target)
        net = be.wrap_native(generator if name.startswith("generator") else critic)
        own = net.get_state()
        saved = self.arrays[name]
        where = f"checkpoint {str(self.path)!r} network {name!r}"
        if sorted(own) != sorted(saved):
            raise CheckpointError(
                f"{where} must hold the entries of {arch.name!r}'s module "
                f"({', '.join(sorted(own))}); received {', '.join(sorted(saved))}"
            )
        for key, value in own.items():
            if saved[key].shape != value.shape or saved[key].dtype != value.dtype:
                raise CheckpointError(
                    f"{where} entry {key!r} must be {value.dtype} of shape {value.shape}; "
                    f"received {saved[key].dtype} of shape {saved[key].shape}"
                )
        net.set_state(saved)
        return net

    def sample(self, n: int, *, backend: str = "numpy", labels: Any = None,
               seed: int | None = None, device: str = "auto",
               max_bytes: int = MAX_SAMPLE_BYTES) -> np.ndarray:
        """`n` samples from the generator on `backend`, as numpy (NHWC images in [-1, 1]).
        The samples and their noise may take at most `max_bytes` (`MAX_SAMPLE_BYTES`);
        samples that are not finite raise `NonFiniteError`."""
        from gancore import backend as get_backend

        arch = self.architecture
        if arch.kind == "cyclegan":
            raise InvalidArgumentError(
                "a CycleGAN checkpoint translates images: use Checkpoint.translate(images)"
            )
        check_sample_count(n, arch, check_limit(max_bytes, "max_bytes"))
        be = get_backend(backend)
        kind = (self.meta.get("config") or {}).get("noise", "normal")
        out = generate(be, self.network("generator", backend, device), arch, n, labels=labels,
                       seed=seed, device=device, noise_kind=kind)
        return _finite(out, f"the generator of {self.path}")

    def translate(self, images: np.ndarray, *, direction: str = "ab", backend: str = "numpy",
                  device: str = "auto") -> np.ndarray:
        """CycleGAN checkpoints: map images A→B (``'ab'``) or B→A (``'ba'``)."""
        from gancore import backend as get_backend

        if direction not in ("ab", "ba"):
            raise InvalidArgumentError(f"direction must be 'ab' or 'ba'; received {direction!r}")
        net = self.network("generator" if direction == "ab" else "generator_ba", backend, device)
        out = translate(get_backend(backend), net, images, device=device)
        return _finite(out, f"the generator {direction} of {self.path}")


def check_sample_count(n: Any, architecture: Any, max_bytes: int) -> int:
    """`n` if it is an int >= 1 whose samples and noise fit in `max_bytes`, else raise."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidArgumentError(f"n must be an int >= 1; received {n!r}")
    per_sample = 4 * (math.prod(architecture.sample_shape) + int(architecture.latent_dim or 0))
    if int(n) * per_sample > max_bytes:
        raise InvalidArgumentError(
            f"n must be at most {max_bytes // per_sample} (max_bytes {max_bytes} of samples "
            f"and noise, {per_sample} bytes a sample); received {n}"
        )
    return int(n)


def _finite(out: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(out)):
        raise NonFiniteError(f"{what} produced non-finite values (nan or inf)")
    return out


def load_checkpoint(path: str | os.PathLike[str], *,
                    limits: CheckpointLimits | None = None) -> Checkpoint:
    """Read a checkpoint folder written by any backend (no pickle is ever loaded). A run
    folder stands for its latest checkpoint.

    Every file is checked before it is allocated (DESIGN invariant 9): ``meta.json``'s size,
    nesting and every field gancore uses, against `limits` (`CheckpointLimits`); then each
    array's header in ``arrays.npz`` against the specs (name, shape, float32) and the
    archive's declared sizes, before its data is read; the weights must be finite. Anything
    else raises `CheckpointError` naming the file and what it holds.
    """
    limits = limits if limits is not None else CheckpointLimits()
    if not isinstance(limits, CheckpointLimits):
        raise InvalidArgumentError(
            f"limits must be a CheckpointLimits; received {type(limits).__name__}"
        )
    folder = Path(path)
    if not (folder / _META).is_file():
        latest = latest_checkpoint(folder) if folder.is_dir() else None
        folder = latest if latest is not None else folder
    if not (folder / _META).is_file() or not (folder / _ARRAYS).is_file():
        raise InvalidArgumentError(
            f"path must be a gancore checkpoint folder (with {_META} and {_ARRAYS}) or a run "
            f"folder holding one; received {str(path)!r}"
        )
    meta = read_json(folder / _META, what="checkpoint file", max_bytes=limits.max_json_bytes,
                     max_depth=limits.max_json_depth, error=CheckpointError)
    specs, config, expected = check_meta(meta, folder / _META, folder / _ARRAYS, limits,
                                         READABLE_FORMATS)
    # Every numeric kind reaches `expected.check`, which names the dtype the array must have.
    arrays = read_npz(folder / _ARRAYS, max_bytes=limits.max_bytes, check=expected.check,
                      kinds="biufc", what="checkpoint file", error=CheckpointError,
                      limit_name="CheckpointLimits.max_bytes")
    return Checkpoint(folder, meta, specs, config, expected.complete(arrays), limits)
