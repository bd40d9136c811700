"""Built-in architectures: generator and critic specs from the books and papers gancore
follows, described once as portable `gancore.nn` specs and built natively by each backend.

Every builder has the signature `builder(sample_shape, *, latent_dim=..., num_classes=None,
**options) -> ArchitecturePair`, checks its arguments (an unsupported size raises
`InvalidArgumentError` listing what is supported) and gives the pair a deterministic name.
`BUILTIN_ARCHITECTURES` maps the registry's names to the builders; a plugin registers its
own builder, with the same signature, in the `gancore.architectures` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable

from gancore.architectures._cyclegan import cyclegan
from gancore.architectures._dcgan import CRITIC_NORMS, DCGAN_SIDES, dcgan
from gancore.architectures._mlp import fc_bn, mlp, vanilla
from gancore.architectures._native import NativeArchitecture
from gancore.architectures._pacgan import pacgan_mlp
from gancore.architectures._pair import KINDS, ArchitecturePair
from gancore.architectures._sngan import SNGAN_SIDES, sngan

__all__ = [
    "BUILTIN_ARCHITECTURES",
    "CRITIC_NORMS",
    "DCGAN_SIDES",
    "KINDS",
    "SNGAN_SIDES",
    "NativeArchitecture",
    "ArchitecturePair",
    "cyclegan",
    "dcgan",
    "fc_bn",
    "mlp",
    "pacgan_mlp",
    "sngan",
    "vanilla",
]

#: The architectures gancore ships, by the name the registry and the CLI use.
BUILTIN_ARCHITECTURES: dict[str, Callable[..., ArchitecturePair]] = {
    "vanilla": vanilla,
    "fc_bn": fc_bn,
    "dcgan": dcgan,
    "cyclegan": cyclegan,
    "pacgan_mlp": pacgan_mlp,
    "mlp": mlp,
    "sngan": sngan,
}
