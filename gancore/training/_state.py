"""The whole state of a training run, as named arrays and JSON values.

A checkpoint holds the networks' weights and, beside them, everything else a run carries
from one step to the next: both optimizers' state (in one backend-neutral layout keyed like
the parameters), every random stream (the trainer's numpy generators, the framework's own
for dropout masks), the data iterators' position, the step and history (the schedules and
the lazy R1 phase are functions of the step), CycleGAN's image pools, SGAN's labelled subset
and what the callbacks need to go on. Restored into a trainer built from the same
architecture, data and config, it makes the run continue exactly (DESIGN invariant 7).

The state is a mapping of *components* (``"loop"``, ``"optimizer.generator"``, ...) to
dicts whose numpy-array values are stored as arrays and whose other values are JSON.
Anything with ``state_dict()`` / ``load_state_dict(state)`` of that form can be a part.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from gancore._errors import CheckpointError, NonFiniteError

__all__ = ["RESUMABLE_SETTINGS", "LoadedState", "Stateful", "capture", "check_finite_state",
           "check_resumable", "data_fingerprint", "merge", "restore", "split"]

Component = dict[str, Any]

#: Config fields a resumed run may change: they decide how long it runs and how often it
#: logs, samples and saves, never what a step computes.
RESUMABLE_SETTINGS = ("steps", "log_every", "sample_every", "checkpoint_every")


class Stateful(Protocol):
    """A part of a run with state: arrays and JSON values out, the same back in."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


def capture(trainer: Any) -> dict[str, Component]:
    """Every component of `trainer`'s state (its networks' weights apart)."""
    backend = trainer.backend
    state: dict[str, Component] = {"loop": trainer.state_dict()}
    for name, (optimizer, nets) in trainer.optimizers().items():
        state[f"optimizer.{name}"] = _optimizer_component(backend, optimizer, nets)
    if hasattr(backend, "random_state"):
        state[f"random.{backend.name}"] = dict(backend.random_state())
    for name, part in trainer.stateful_parts().items():
        state[name] = part.state_dict()
    for callback in trainer.callbacks:
        key = getattr(callback, "state_key", None)
        if key and hasattr(callback, "state_dict"):
            state[f"callback.{key}"] = callback.state_dict()
    return state


class LoadedState(dict[str, Component]):
    """A state read from a checkpoint; `source` names it in error messages."""

    def __init__(self, components: Mapping[str, Component], source: str) -> None:
        super().__init__(components)
        self.source = source


def restore(trainer: Any, state: Mapping[str, Component]) -> None:
    """Load a `capture`d state into `trainer` (built from the same architecture, data and
    config). The framework's random stream is restored on the backend that saved it; on
    another backend it stays as seeded (dropout masks then differ, nothing else).

    A component that is missing, or that its part cannot load (a state of the wrong types or
    shapes: a corrupt or hostile checkpoint), raises `CheckpointError` naming it."""
    backend = trainer.backend
    where = f"checkpoint {getattr(state, 'source', '')}".rstrip()

    def load(name: str, action: Any) -> None:
        if name not in state:
            raise CheckpointError(f"the {where} holds no state for {name!r}")
        try:
            action(state[name])
        except Exception as e:  # the part's own error, or what bad values make it raise
            cause = str(e) if isinstance(e, CheckpointError) else f"{type(e).__name__}: {e}"
            raise CheckpointError(
                f"the {where} holds a state for {name!r} that cannot be restored: {cause}"
            ) from e

    load("loop", trainer.load_state_dict)
    for name, (optimizer, nets) in trainer.optimizers().items():
        load(f"optimizer.{name}",
             lambda c, o=optimizer, n=nets, k=name: _load_optimizer(backend, o, n, c, k))
    own_random = f"random.{backend.name}"
    if own_random in state and hasattr(backend, "set_random_state"):
        load(own_random, backend.set_random_state)
    for name, part in trainer.stateful_parts().items():
        load(name, part.load_state_dict)
    for callback in trainer.callbacks:
        key = getattr(callback, "state_key", None)
        if key and f"callback.{key}" in state and hasattr(callback, "load_state_dict"):
            load(f"callback.{key}", callback.load_state_dict)


def _optimizer_component(backend: Any, optimizer: Any, nets: Mapping[str, Any]) -> Component:
    raw = backend.optimizer_state(optimizer)
    slots = [s for s in raw if s != "step"]
    out: Component = {"slots": slots}
    offset = 0
    for net_name, net in nets.items():
        names = net.trainable_names()
        part = slice(offset, offset + len(names))
        for slot in slots:
            for param, value in net.to_canonical(raw[slot][part]).items():
                out[f"{net_name}/{param}/{slot}"] = np.asarray(value, np.float32)
        for param, step in zip(names, raw["step"][part], strict=True):
            out[f"{net_name}/{param}/step"] = np.asarray(step, np.float64)
        offset += len(names)
    return out


def _load_optimizer(backend: Any, optimizer: Any, nets: Mapping[str, Any],
                    component: Mapping[str, Any], name: str) -> None:
    slots = [s for s in backend.optimizer_state(optimizer) if s != "step"]
    if list(component.get("slots", [])) != slots:
        raise CheckpointError(
            f"the {name} optimizer's state must have slots {slots}; the checkpoint has "
            f"{component.get('slots')}"
        )
    raw: dict[str, list[Any]] = {"step": [], **{s: [] for s in slots}}
    for net_name, net in nets.items():
        names = net.trainable_names()
        shapes = {p: np.shape(v) for p, v in net.get_state().items()}
        for slot in slots:
            values = {p: _moment(component, f"{net_name}/{p}/{slot}", name, np.float32,
                                 shapes[p]) for p in names}
            raw[slot] += net.from_canonical(values)
        raw["step"] += [_moment(component, f"{net_name}/{p}/step", name, np.float64, ())
                        for p in names]
    backend.set_optimizer_state(optimizer, raw)


def _moment(component: Mapping[str, Any], key: str, name: str, dtype: type,
            shape: tuple[int, ...]) -> np.ndarray:
    """One array of an optimizer's state, of exactly the dtype and shape it must have."""
    if key not in component:
        raise CheckpointError(f"the {name} optimizer's state lacks {key!r}")
    value = component[key]
    if not isinstance(value, np.ndarray) or value.dtype != dtype or value.shape != shape:
        got = (f"{value.dtype} of shape {value.shape}" if isinstance(value, np.ndarray)
               else type(value).__name__)
        raise CheckpointError(
            f"the {name} optimizer's {key!r} must be {np.dtype(dtype)} of shape {shape}; "
            f"received {got}"
        )
    if not np.all(np.isfinite(value)):
        raise CheckpointError(f"the {name} optimizer's {key!r} holds nan or inf")
    return value


def split(state: Mapping[str, Component]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays (``component/key``) and a JSON document (``component -> key -> value``)."""
    arrays: dict[str, np.ndarray] = {}
    document: dict[str, Any] = {}
    for name, component in state.items():
        if "/" in name:
            raise ValueError(f"state component names must not contain '/'; received {name!r}")
        document[name] = {}
        for key, value in component.items():
            if isinstance(value, np.ndarray):
                arrays[f"{name}/{key}"] = value
            else:
                document[name][key] = value
    return arrays, document


def merge(arrays: Mapping[str, np.ndarray], document: Mapping[str, Any],
          source: str | None = None) -> dict[str, Component]:
    """The inverse of `split` (a `LoadedState` naming `source` when it is given)."""
    state: dict[str, Component] = {name: dict(values) for name, values in document.items()}
    for key, value in arrays.items():
        name, _, rest = key.partition("/")
        state.setdefault(name, {})[rest] = value
    return state if source is None else LoadedState(state, source)


def check_finite_state(arrays: Mapping[str, np.ndarray], step: int) -> None:
    """A `NonFiniteError` naming the first array (weight, moment) holding nan or inf."""
    for key, value in arrays.items():
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            bad = "nan" if np.isnan(value).any() else "inf"
            raise NonFiniteError(
                f"training diverged: {key} holds {bad} at step {step}; no checkpoint was "
                f"written from this state"
            )


def data_fingerprint(data: Any) -> str:
    """A hash of a dataset's samples and labels: a resumed run must see the same data.
    A streamed or iterable source hashes itself (`fingerprint()`)."""
    if hasattr(data, "fingerprint"):
        return str(data.fingerprint())
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps([list(data.images.shape), str(data.images.dtype)]).encode())
    digest.update(np.ascontiguousarray(data.images).data)
    if data.labels is not None:
        digest.update(np.ascontiguousarray(data.labels).data)
    return digest.hexdigest()


def check_resumable(meta: Mapping[str, Any], trainer: Any, where: str) -> None:
    """A `CheckpointError` naming the first setting in which `trainer` differs from the run
    that wrote the checkpoint (`meta`), other than the `RESUMABLE_SETTINGS`."""

    def refuse(setting: str, saved: Any, received: Any) -> None:
        raise CheckpointError(
            f"cannot resume {where}: {setting} would change the run; the checkpoint has "
            f"{saved!r}, received {received!r}"
        )

    if meta.get("algorithm") != trainer.algorithm:
        refuse("the algorithm", meta.get("algorithm"), trainer.algorithm)
    arch = meta.get("architecture", {})
    if arch.get("name") != trainer.architecture.name:
        refuse("the architecture", arch.get("name"), trainer.architecture.name)
    if arch.get("native") and meta.get("backend") != trainer.backend.name:
        # A native module's state is in its framework's own names and layouts.
        refuse("the backend of a native architecture", meta.get("backend"),
               trainer.backend.name)
    specs = _normalized({n: s.to_dict() for n, s in trainer.specs().items()})
    saved_specs = _normalized(meta.get("specs", {}))
    for name in sorted(set(specs) | set(saved_specs)):
        if specs.get(name) != saved_specs.get(name):
            refuse(f"the architecture of network {name!r} (its options)",
                   _summary(saved_specs.get(name)), _summary(specs.get(name)))
    config = _normalized(trainer.config.to_dict())
    # A setting newer than the checkpoint was at its default when the run was written.
    defaults = _normalized(type(trainer.config)(algorithm=trainer.config.algorithm).to_dict())
    saved_config = {**{k: v for k, v in defaults.items() if k not in RESUMABLE_SETTINGS},
                    **meta.get("config", {})}
    for key in sorted(set(config) | set(saved_config)):
        if key not in RESUMABLE_SETTINGS and config.get(key) != saved_config.get(key):
            refuse(key, saved_config.get(key), config.get(key))
    saved_data = meta.get("data") or {}
    for data, fingerprint in zip(trainer.datasets(), saved_data.get("fingerprints", []),
                                 strict=False):
        if data_fingerprint(data) != fingerprint:
            refuse("the data", f"{saved_data.get('name')} ({fingerprint})",
                   f"{data.name} ({data_fingerprint(data)})")


def _normalized(value: Any) -> Any:
    # What JSON makes of it: tuples become lists, so saved and built values compare.
    return json.loads(json.dumps(value))


def _summary(spec: Any) -> str:
    if not spec:
        return "none"
    return f"{spec.get('name')!r} with {len(spec.get('nodes', []))} layers"
