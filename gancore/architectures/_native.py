"""`NativeArchitecture`: a generator and critic written directly in one framework.

Portable specs run on every backend; a plugin may instead bring its own native modules
(a `torch.nn.Module`, a Keras model, a JAX function and its parameters). Such an
architecture trains on the backends it has builders for, and on any other raises a clear
`BackendUnsupportedError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from gancore._errors import BackendUnsupportedError, InvalidArgumentError

__all__ = ["NativeArchitecture"]


def _builders(inst: Any, attr: attrs.Attribute, value: Any) -> None:
    if (
        not isinstance(value, Mapping)
        or not value
        or not all(isinstance(k, str) and callable(v) for k, v in value.items())
    ):
        raise InvalidArgumentError(
            f"NativeArchitecture builders must map backend names to callables "
            f"(device -> (generator, critic)); received {value!r}"
        )


def _num_classes(inst: Any, attr: attrs.Attribute, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or value < 2):
        raise InvalidArgumentError(
            f"NativeArchitecture num_classes must be None (unconditional) or an int >= 2 "
            f"(conditional); received {value!r}"
        )


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else value


@attrs.frozen
class NativeArchitecture:
    """A GAN whose networks are native modules of some backends.

    ``builders[backend_name](device)`` returns ``(generator, critic)``: the generator maps
    noise ``(batch, latent_dim)`` to samples of ``sample_shape`` (in the backend's native
    layout), the critic maps samples to raw scores. With ``num_classes`` the architecture
    is conditional (``kind`` ``"conditional"``): both networks also take the int class
    labels ``(batch,)``, after the noise or the samples. What a backend accepts as a module
    is its ``wrap_native``'s to say (torch: ``torch.nn.Module``; TensorFlow: a Keras 3
    model; JAX: an ``(apply, params)`` pair). Checkpoints hold the modules' own state
    (their names and layouts) and reload through the same plugin, on the same backend.
    """

    name: str
    builders: Mapping[str, Callable[[Any], tuple[Any, Any]]] = attrs.field(validator=_builders)
    sample_shape: tuple[int, ...] = attrs.field(converter=_shape)
    latent_dim: int = 100
    num_classes: int | None = attrs.field(default=None, validator=_num_classes)
    kind: str = attrs.field(init=False)
    packing: int = attrs.field(default=1, init=False)

    @kind.default
    def _kind(self) -> str:
        return "gan" if self.num_classes is None else "conditional"

    def build(self, backend_name: str, device: Any) -> tuple[Any, Any]:
        """The native (generator, critic) for `backend_name`, or a clear error."""
        if backend_name not in self.builders:
            raise BackendUnsupportedError(
                f"architecture {self.name!r} is native to {', '.join(sorted(self.builders))}; "
                f"it cannot run on backend {backend_name!r}"
            )
        return self.builders[backend_name](device)
