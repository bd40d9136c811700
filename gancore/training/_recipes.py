"""Named recipes: an architecture, a dataset and a training config that work together.

`gancore train --recipe NAME` runs one; `gancore recipes` lists them. Every option of a
recipe can be overridden from the command line or a TOML file.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from gancore import _registry
from gancore._errors import GancoreError, InvalidArgumentError, PluginError
from gancore.architectures import BUILTIN_ARCHITECTURES, ArchitecturePair, NativeArchitecture
from gancore.data import BUILTIN_DATASETS, Dataset, StreamingDataset
from gancore.data._idx import mnist_split
from gancore.training._config import OptimizerConfig, TrainConfig
from gancore.training._epochs import Epochs

__all__ = ["RECIPES", "Recipe", "get_recipe", "load_dataset", "build_architecture"]

#: Where the MNIST recipes look when no data path is given.
MNIST_ENV = "GANCORE_MNIST"
#: The options every architecture builder takes (`gancore.architectures`).
SHARED_OPTIONS = ("latent_dim", "num_classes")


@attrs.frozen
class Recipe:
    """A ready-to-run training setup."""

    name: str
    description: str
    architecture: str
    dataset: str
    config: TrainConfig
    architecture_options: Mapping[str, Any] = attrs.field(factory=dict)
    dataset_options: Mapping[str, Any] = attrs.field(factory=dict)
    #: The book's length and frequencies in epochs (used when no steps are given; its
    #: frequencies apply to any length); None: the config's steps.
    epochs: Epochs | None = None

    def with_overrides(self, *, architecture: str | None = None, dataset: str | None = None,
                       config: Mapping[str, Any] | None = None,
                       architecture_options: Mapping[str, Any] | None = None,
                       dataset_options: Mapping[str, Any] | None = None) -> Recipe:
        """A copy with some settings replaced (the config field by field).

        Another `architecture` than the recipe's keeps, of the recipe's architecture
        options, only those every builder takes (``latent_dim``, ``num_classes``): the
        others tune the recipe's own architecture (CycleGAN's ``depth``, WGAN-GP's
        ``norm``). `architecture_options` apply on top."""
        own_options = dict(self.architecture_options)
        if architecture and architecture != self.architecture:
            own_options = {k: v for k, v in own_options.items() if k in SHARED_OPTIONS}
        cfg = self.config
        if config:
            merged = {**cfg.to_dict(), **config}
            for key in ("generator_optimizer", "critic_optimizer"):
                if isinstance(config.get(key), Mapping):
                    merged[key] = {**getattr(cfg, key).to_dict(), **config[key]}
            cfg = TrainConfig.from_dict(merged)
        return attrs.evolve(
            self,
            architecture=architecture or self.architecture,
            dataset=dataset or self.dataset,
            config=cfg,
            architecture_options={**own_options, **(architecture_options or {})},
            dataset_options={**self.dataset_options, **(dataset_options or {})},
        )


def load_dataset(name: str, options: Mapping[str, Any] | None = None) -> Dataset:
    """A dataset by name: gancore's own or a `gancore.datasets` plugin (a loader callable).

    The options must be the loader's keyword arguments (``folder`` stands for
    ``image_folder``'s ``root``); an unknown or missing one, a loader that raises anything
    but a gancore error, or one that returns no `Dataset` is an error naming the dataset.
    """
    options = dict(options or {})
    if name in BUILTIN_DATASETS:
        loader = BUILTIN_DATASETS[name]
        if name in ("mnist", "fashion_mnist"):
            options = mnist_options(name, options)
        if name in ("image_folder", "image_files") and "folder" in options \
                and "root" not in options:
            options["root"] = options.pop("folder")
        options.pop("folder_b", None)  # the second domain of a CycleGAN: `load_domains`
    else:
        loader = _registry.load_plugin("datasets", name)
    data = _call("datasets", name, loader, (), options)
    if not isinstance(data, Dataset | StreamingDataset):
        raise InvalidArgumentError(
            f"dataset {name!r} must load a gancore.data.Dataset or StreamingDataset; received "
            f"{type(data).__name__}"
        )
    return data


def mnist_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options of an MNIST-format dataset with its folder (``--data``, else
    ``$GANCORE_MNIST``) and its split resolved: the training split when its files are there,
    else the test split, with a warning that says so (`gancore.data` ``mnist_split``)."""
    options = dict(options)
    if "folder" not in options:
        folder = os.environ.get(MNIST_ENV)
        if not folder:
            raise InvalidArgumentError(
                f"dataset {name!r} needs a folder with the IDX files: pass --data PATH "
                f"(or set {MNIST_ENV})"
            )
        options["folder"] = folder
    if isinstance(options["folder"], str | os.PathLike):
        options["split"] = mnist_split(options["folder"], options.get("split", "auto"), name)
    return options


def resolved(rec: Recipe) -> Recipe:
    """`rec` with the data it trains on settled, so that its run records it: an MNIST-format
    dataset's folder and split (`mnist_options`)."""
    if rec.dataset not in ("mnist", "fashion_mnist"):
        return rec
    return attrs.evolve(rec, dataset_options=mnist_options(rec.dataset, rec.dataset_options))


#: An architecture option's value that stands for the data's class count.
FROM_DATA = "data"


def with_data_classes(options: Mapping[str, Any], data: Any) -> dict[str, Any]:
    """`options` with ``num_classes = "data"`` replaced by the data's class count (the
    class sub-folders of an image folder), or an error when the data has no labels."""
    options = dict(options)
    if options.get("num_classes") == FROM_DATA:
        classes = getattr(data, "num_classes", None)
        if not classes or classes < 2:
            raise InvalidArgumentError(
                f"this recipe needs labelled data of 2 or more classes (an image folder with "
                f"one sub-folder per class); received {data.name!r} with "
                f"num_classes={classes}"
            )
        options["num_classes"] = int(classes)
    return options


def build_architecture(name: str, sample_shape: tuple[int, ...],
                       options: Mapping[str, Any] | None = None
                       ) -> ArchitecturePair | NativeArchitecture:
    """An architecture by name: gancore's own or a `gancore.architectures` plugin.

    The options must be the builder's keyword arguments; an unknown or missing one, a
    builder that raises anything but a gancore error, or one that builds something else
    than an architecture is an error naming the architecture."""
    builder = BUILTIN_ARCHITECTURES.get(name) or _registry.load_plugin("architectures", name)
    pair = _call("architectures", name, builder, (tuple(sample_shape),), dict(options or {}))
    if not isinstance(pair, (ArchitecturePair, NativeArchitecture)):
        raise InvalidArgumentError(
            f"architecture {name!r} must build an ArchitecturePair or a NativeArchitecture; "
            f"received {type(pair).__name__}"
        )
    return pair


_SINGULAR = {"architectures": "architecture", "datasets": "dataset"}
_KEYWORDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _call(group: str, name: str, fn: Any, args: tuple[Any, ...],
          options: dict[str, Any]) -> Any:
    """`fn(*args, **options)` for the builder or loader `name`: options checked against its
    signature first (its own TypeErrors are not mistaken for the user's), and what it raises
    other than gancore errors turned into one naming it (and, for a plugin, its
    distribution)."""
    what = f"{_SINGULAR[group]} {name!r}"
    try:
        signature: inspect.Signature | None = inspect.signature(fn)
    except (TypeError, ValueError):  # a callable without a signature: call it as it is
        signature = None
    if signature is not None:
        params = signature.parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        keywords = [p for p in list(params.values())[len(args):] if p.kind in _KEYWORDS]
        accepted = [p.name for p in keywords]
        unknown = sorted(k for k in options if k not in accepted)
        if unknown and not takes_any:
            allowed = f"must be among {', '.join(accepted)}" if accepted else "must be none"
            raise InvalidArgumentError(
                f"{what} options {allowed}; received {', '.join(unknown)}"
            )
        missing = [p.name for p in keywords
                   if p.default is inspect.Parameter.empty and p.name not in options]
        if missing:
            folder = group == "datasets" and {"folder", "root"} & set(missing)
            hint = " (a folder: pass --data PATH)" if folder else ""
            raise InvalidArgumentError(
                f"{what} needs the option {', '.join(missing)}{hint}; received "
                f"{', '.join(sorted(options)) or 'none'}"
            )
        try:
            signature.bind(*args, **options)
        except TypeError as e:
            raise InvalidArgumentError(
                f"{what} cannot take the options {', '.join(sorted(options)) or 'none'}: {e}"
            ) from None
    builtin = name in (BUILTIN_ARCHITECTURES if group == "architectures" else BUILTIN_DATASETS)
    try:
        return fn(*args, **options)
    except GancoreError:
        raise
    except (Exception, SystemExit) as e:
        if builtin:
            raise InvalidArgumentError(
                f"{what} failed with the options {options!r}: {type(e).__name__}: {e}"
            ) from e
        raise PluginError(
            f"{what} ({_registry.origin(group, name)}) raised {type(e).__name__}: {e}"
        ) from e


def load_domains(rec: Recipe, data: Any) -> tuple[Any, Any]:
    """A CycleGAN recipe's two domains: `data` (its dataset with ``folder``) and the same
    dataset loaded from ``folder_b`` (``--data-a`` / ``--data-b``); without ``folder_b``,
    `data` and its inverted images (the toy recipe)."""
    folder_b = rec.dataset_options.get("folder_b")
    if folder_b is None:
        return data, inverted(data)
    if not isinstance(folder_b, (str, os.PathLike)):
        raise InvalidArgumentError(
            f"folder_b must be a folder path; received {type(folder_b).__name__}")
    return data, load_dataset(rec.dataset, {**rec.dataset_options, "folder": folder_b})


def inverted(data: Dataset) -> Dataset:
    """The same images with black and white swapped: the second domain of the toy CycleGAN."""
    if not isinstance(data, Dataset):
        raise InvalidArgumentError(
            f"the CycleGAN recipe needs its data in memory; received a {type(data).__name__} "
            f"({data.name!r}): train it without stream"
        )
    return Dataset(f"{data.name}-inverted", np.ascontiguousarray(-data.images), data.labels,
                   data.num_classes, data.class_names)


_DCGAN_ADAM = OptimizerConfig.adam(2e-4, 0.5)
_GP_ADAM = OptimizerConfig.adam(1e-4, 0.0, 0.9)


def _book_recipes(base: TrainConfig) -> list[Recipe]:
    """The experiments the books run on real data (`docs/experiments.md`)."""
    folder: dict[str, Any] = {"dataset": "image_folder", "dataset_options": {"size": [64, 64]}}
    # MATLAB's conditional GAN on the flowers: 64x64 images from class sub-folders, labels
    # embedded (50) and joined to noise and image, dropout 0.25 on the critic's input, half
    # of the real labels flipped, batch 128, Adam 2e-4 with betas 0.5 / 0.999, random
    # horizontal flips.
    flowers = attrs.evolve(base, steps=5000, batch_size=128, flip_fraction=0.5, hflip=True,
                           log_every=50, sample_every=500, checkpoint_every=1000)
    # The same slides' WGAN-GP: critic 2e-4, generator 1e-3, betas 0 / 0.9, five critic
    # steps, lambda 10 (a layer-normalised critic: batch norm breaks the penalty).
    flowers_gp = attrs.evolve(flowers, loss="wasserstein", gradient_penalty=10.0, n_critic=5,
                              batch_size=64, flip_fraction=0.0,
                              critic_optimizer=OptimizerConfig.adam(2e-4, 0.0, 0.9),
                              generator_optimizer=OptimizerConfig.adam(1e-3, 0.0, 0.9))
    # The report's DCGANs: a fixed-noise grid every epoch, a checkpoint every 15, 50 epochs.
    report = Epochs(epochs=50, sample_every=1, checkpoint_every=15)
    report_cfg = attrs.evolve(base, batch_size=128, log_every=100)
    return [
        Recipe("flowers-cgan", "MATLAB's conditional GAN: 64x64 flowers from class "
               "sub-folders, flip factor 0.5, input dropout 0.25, hflip (--data DIR)", "dcgan",
               config=flowers, architecture_options={"num_classes": FROM_DATA,
                                                     "input_dropout": 0.25}, **folder),
        Recipe("flowers-wgan-gp", "MATLAB's WGAN-GP: 64x64 flowers, lr 2e-4 / 1e-3, betas "
               "0 / 0.9, 5 critic steps, lambda 10, hflip (--data DIR)", "dcgan",
               config=flowers_gp, architecture_options={"norm": "layer"}, **folder),
        Recipe("fashion-mnist-dcgan", "the report's DCGAN on Fashion-MNIST: 50 epochs, a grid "
               "every epoch, a checkpoint every 15 (--data DIR)", "dcgan", config=report_cfg,
               dataset="fashion_mnist", epochs=report),
        Recipe("cifar10-dcgan", "the report's DCGAN on CIFAR-10 (32x32): 50 epochs, a grid "
               "every epoch, a checkpoint every 15 (--data DIR)", "dcgan", config=report_cfg,
               dataset="cifar10", epochs=report),
        Recipe("mnist-sgan", "the SGAN on MNIST: 100 labels, K-class critic; reports the "
               "critic's test accuracy (--data DIR)", "dcgan",
               config=attrs.evolve(base, algorithm="sgan", num_labeled=100, steps=3000),
               architecture_options={"num_classes": 10, "semi_supervised": True},
               dataset="mnist"),
    ]


def _recipes() -> dict[str, Recipe]:
    digits: dict[str, Any] = {"dataset": "digits"}
    base = TrainConfig(steps=2000, batch_size=64, log_every=50, sample_every=200,
                       checkpoint_every=500, generator_optimizer=_DCGAN_ADAM,
                       critic_optimizer=_DCGAN_ADAM)
    wgan_gp = attrs.evolve(base, loss="wasserstein", gradient_penalty=10.0, n_critic=5,
                           steps=1500, generator_optimizer=_GP_ADAM, critic_optimizer=_GP_ADAM)
    mixture = TrainConfig(
        steps=3000, batch_size=256, loss="nonsaturating", log_every=100,
        generator_optimizer=OptimizerConfig.adam(1e-3, 0.5, 0.999),
        critic_optimizer=OptimizerConfig.adam(1e-3, 0.5, 0.999), grid_size=2500,
        checkpoint_every=1000,
    )
    # Measured in experiments/pacgan_tuning.md: small batches and a linear learning-rate
    # decay to 0 over the second half sharpen the modes; the R1 penalty balances them (a
    # critic packing 4 samples balances the ring without it, but blurs the grid).
    ring = attrs.evolve(mixture, steps=6000, batch_size=64, lr_schedule="linear",
                        decay_start=0.5, r1_penalty=1.0)
    # The grid needs more steps than the ring: a generator of 4 x 300 and a critic of
    # 100 x 5 maxout units (PacGAN's: 4 x 400 and 200 x 5; as sharp per step on the seeds
    # tried, 2x cheaper) run 40,000 of them in 7-9 minutes on 2 CPU cores. Its noise has a
    # 100-way categorical code (disjoint inputs for disjoint modes: no bridges of samples
    # between them) and the R1 gamma decays from 1 to 0.1 with the learning rate (a sharper
    # critic places the modes precisely once they are balanced).
    grid = attrs.evolve(ring, steps=40000, r1_final=0.1, checkpoint_every=5000)
    # SNGAN's CIFAR-10 setting (Miyato et al. 2018, table 1 setting C: hinge loss, 5 critic
    # updates, Adam 2e-4, betas 0 and 0.9) and SAGAN's (TTUR: critic 4e-4, generator 1e-4).
    sngan = attrs.evolve(base, loss="hinge", n_critic=5, steps=1500,
                         generator_optimizer=OptimizerConfig.adam(2e-4, 0.0, 0.9),
                         critic_optimizer=OptimizerConfig.adam(2e-4, 0.0, 0.9))
    sagan = attrs.evolve(base, loss="hinge",
                         generator_optimizer=OptimizerConfig.adam(1e-4, 0.0, 0.9),
                         critic_optimizer=OptimizerConfig.adam(4e-4, 0.0, 0.9))
    items = [
        Recipe("dcgan", "DCGAN, non-saturating loss, on the 8x8 digits (the default)",
               "dcgan", config=base, **digits),
        Recipe("gan-minimax", "DCGAN with the original saturating minimax loss", "dcgan",
               config=attrs.evolve(base, loss="minimax"), **digits),
        Recipe("gan-label-flip", "DCGAN, non-saturating, half of the real labels flipped "
               "(flip factor 0.5, as the flowers cGAN)", "dcgan",
               config=attrs.evolve(base, flip_fraction=0.5), **digits),
        Recipe("vanilla", "fully connected GAN (Raschka ch. 17)", "vanilla",
               config=base, **digits),
        Recipe("fc-bn", "fully connected 256-512-1024 generator with batch norm", "fc_bn",
               config=base, **digits),
        Recipe("wgan", "WGAN: weight clipping 0.01, RMSprop 5e-5, 5 critic steps", "dcgan",
               config=attrs.evolve(base, loss="wasserstein", clip_value=0.01, n_critic=5,
                                   steps=1500,
                                   generator_optimizer=OptimizerConfig.rmsprop(5e-5),
                                   critic_optimizer=OptimizerConfig.rmsprop(5e-5)),
               **digits),
        Recipe("wgan-gp", "WGAN-GP: gradient penalty 10, 5 critic steps, layer-norm critic",
               "dcgan", config=wgan_gp, architecture_options={"norm": "layer"}, **digits),
        Recipe("cgan", "conditional DCGAN: labels embedded into noise and image", "dcgan",
               config=base, architecture_options={"num_classes": 10}, **digits),
        Recipe("sgan", "semi-supervised GAN: 100 labelled digits, K-class critic", "dcgan",
               config=attrs.evolve(base, algorithm="sgan", num_labeled=100),
               architecture_options={"num_classes": 10, "semi_supervised": True}, **digits),
        Recipe("cyclegan", "CycleGAN: digits <-> inverted digits, U-Net, PatchGAN", "cyclegan",
               config=attrs.evolve(base, algorithm="cyclegan", loss="least_squares", steps=600,
                                   batch_size=16, identity_weight=5.0, cycle_weight=10.0),
               architecture_options={"base_filters": 16, "depth": 2}, **digits),
        # GANs in Action ch. 9 (apple2orange, 128x128): Adam 2e-4 / 0.5, batch 1, cycle 10;
        # identity 5 as the CycleGAN paper (0.5 lambda); an image pool of 50.
        Recipe("cyclegan-folders", "CycleGAN between two folders of unpaired images "
               "(--data-a DIR --data-b DIR), 128x128, U-Net (or [architecture] generator = "
               "'resnet')", "cyclegan",
               config=attrs.evolve(base, algorithm="cyclegan", loss="least_squares",
                                   steps=20000, batch_size=1, identity_weight=5.0,
                                   cycle_weight=10.0, log_every=100, sample_every=1000,
                                   checkpoint_every=2000),
               dataset="image_files", dataset_options={"size": [128, 128]}),
        Recipe("ring", "2-D ring of 8 Gaussians (PacGAN protocol): critic packing 2, R1, "
               "lr decay", "pacgan_mlp", config=ring, architecture_options={"packing": 2},
               dataset="ring"),
        Recipe("grid", "2-D grid of 25 Gaussians (PacGAN protocol): a 100-way categorical "
               "code, R1 decayed with the lr, 40k steps", "pacgan_mlp", config=grid,
               architecture_options={"hidden": [300, 100], "categories": 100}, dataset="grid"),
        Recipe("sngan", "SNGAN: ResNet pair, spectrally normalised critic, hinge loss, 5 "
               "critic steps, on the 8x8 digits", "sngan", config=sngan,
               architecture_options={"widths": [64, 64]}, **digits),
        Recipe("sagan", "DCGAN with self-attention and a spectrally normalised critic, hinge "
               "loss, TTUR (SAGAN)", "dcgan", config=sagan,
               architecture_options={"attention": True, "spectral_norm": True}, **digits),
        Recipe("mnist-dcgan", "GANs in Action ch. 4 DCGAN on MNIST (--data PATH)", "dcgan",
               config=attrs.evolve(base, steps=3000), dataset="mnist"),
        Recipe("mnist-wgan-gp", "WGAN-GP on MNIST (--data PATH)", "dcgan",
               config=attrs.evolve(wgan_gp, steps=2000), architecture_options={"norm": "layer"},
               dataset="mnist"),
        Recipe("mnist-cgan", "conditional DCGAN on MNIST (--data PATH)", "dcgan",
               config=attrs.evolve(base, steps=3000), architecture_options={"num_classes": 10},
               dataset="mnist"),
        *_book_recipes(base),
    ]
    return {r.name: r for r in items}


RECIPES: dict[str, Recipe] = _recipes()


def get_recipe(name: str) -> Recipe:
    """A recipe by name; the error lists the recipes there are."""
    if name not in RECIPES:
        raise InvalidArgumentError(
            f"recipe must be one of {', '.join(RECIPES)}; received {name!r}"
        )
    return RECIPES[name]
