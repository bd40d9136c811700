"""Plugin discovery and loading, with hand-built entry points (STYLE.md 3 and 4; DESIGN
invariant 5: a broken or missing plugin gives a clear gancore error, never a crash).

Like xarray's `tests/test_plugins.py`, no real broken package is installed: each test
describes distributions as `*.dist-info` folders under `tmp_path`, whose
`importlib.metadata.EntryPoint` objects replace what `gancore._registry._entry_points`
would read from the environment. The plugin objects themselves live in this module, or in
a module under `tmp_path` that raises when imported.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import io
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

import gancore
from gancore import _registry
from gancore.architectures import dcgan
from gancore.cli import main
from gancore.losses import LOSS_FAMILIES
from gancore.training import build_architecture

# --- plugin objects the fake entry points point at ------------------------------------------

#: The module that raises when imported: proves that listing imports nothing.
EXPLODING = "gancore_test_exploding_plugin"


def good_builder(sample_shape: tuple[int, ...], **options: Any) -> Any:
    """A callable, as an architecture builder must be (it builds nothing useful)."""
    return f"not a pair for {sample_shape}"


class GoodLoss:
    """Has critic_loss and generator_loss, as a loss must."""

    def critic_loss(self, real: Any, fake: Any) -> Any:
        return real - fake

    def generator_loss(self, fake: Any) -> Any:
        return -fake


GOOD_LOSS = GoodLoss()
NOT_A_BUILDER = "a string is not an architecture builder"
NOT_A_LOSS = object()  # no critic_loss, no generator_loss
NOT_A_LOADER = 42


class NotABackend:
    """A class without the attributes a backend must have."""


def here(obj: str) -> str:
    """An entry-point value naming `obj` in this module (under pytest's name for it)."""
    return f"{__name__}:{obj}"


# --- fixtures --------------------------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("plugin_switches_off")


Dist = Callable[..., list[md.EntryPoint]]


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Dist]:
    """`installed(name, version, {group: {entry: value}})` makes a distribution's entry
    points the only ones gancore sees (gancore's builtins stay); returns them."""
    eps: list[md.EntryPoint] = []
    reads: list[str] = []

    def fake_entry_points(group: str) -> Iterable[md.EntryPoint]:
        reads.append(group)
        return [ep for ep in eps if ep.group == _registry.GROUPS[group]]

    def install(name: str, version: str = "1.0",
                entry_points: dict[str, dict[str, str]] | None = None) -> list[md.EntryPoint]:
        info = tmp_path / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        lines = []
        for group, table in (entry_points or {}).items():
            lines.append(f"[{_registry.GROUPS[group]}]")
            lines += [f"{entry} = {value}" for entry, value in table.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        new = list(md.PathDistribution(info).entry_points)
        eps.extend(new)
        _registry.refresh()
        return new

    install.reads = reads  # type: ignore[attr-defined]
    install.entry_points = eps  # type: ignore[attr-defined]
    monkeypatch.setattr(_registry, "_entry_points", fake_entry_points)
    _registry.refresh()
    yield install
    _registry.refresh()


@pytest.fixture
def exploding(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A module on sys.path that raises RuntimeError when imported; returns its name."""
    folder = tmp_path / "modules"
    folder.mkdir()
    (folder / f"{EXPLODING}.py").write_text(
        'raise RuntimeError("the plugin module was imported")\n'
    )
    monkeypatch.syspath_prepend(str(folder))
    yield EXPLODING
    sys.modules.pop(EXPLODING, None)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`gancore ARGV` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def names(group: str) -> list[str]:
    return [info.name for info in gancore.list_plugins(group)]


# --- phase one: listing ----------------------------------------------------------------------


def test_listing_reads_metadata_only_and_never_imports(installed: Dist, exploding: str) -> None:
    installed("gancore-boom", "2.5", {"architectures": {"boom": f"{exploding}:builder"}})
    (info,) = [i for i in gancore.list_plugins("architectures") if i.name == "boom"]
    assert info == gancore.PluginInfo("architectures", "boom", f"{exploding}:builder",
                                      "gancore-boom", "2.5")
    assert not info.builtin
    assert exploding not in sys.modules


def test_listing_is_sorted_with_the_builtins(installed: Dist) -> None:
    installed("gx-z", entry_points={"losses": {"zz_last": here("GOOD_LOSS")}})
    installed("gx-a", entry_points={"losses": {"aa_first": here("GOOD_LOSS"),
                                               "m_middle": here("GOOD_LOSS")}})
    listed = names("losses")
    assert listed == sorted(listed)
    assert set(LOSS_FAMILIES) | {"aa_first", "m_middle", "zz_last"} == set(listed)
    assert _registry.plugin_names("losses") == listed


def test_listing_is_cached_until_refresh(installed: Dist) -> None:
    installed("gx-one", entry_points={"datasets": {"one": here("good_builder")}})
    reads = installed.reads  # type: ignore[attr-defined]
    reads.clear()
    first = names("datasets")
    assert names("datasets") == first
    assert reads == ["datasets"]  # read once, then cached

    # A distribution installed behind gancore's back is seen after refresh() only.
    installed.entry_points.append(  # type: ignore[attr-defined]
        md.EntryPoint("two", here("good_builder"), "gancore.datasets")
    )
    assert "two" not in names("datasets")
    gancore.refresh()
    assert "two" in names("datasets")
    assert reads == ["datasets", "datasets"]


def test_an_entry_point_without_a_distribution_is_listed(installed: Dist) -> None:
    installed.entry_points.append(  # type: ignore[attr-defined]
        md.EntryPoint("bare", here("GOOD_LOSS"), "gancore.losses")
    )
    gancore.refresh()
    (info,) = [i for i in gancore.list_plugins("losses") if i.name == "bare"]
    assert info.distribution == "<unknown distribution>"
    assert _registry.load_plugin("losses", "bare") is GOOD_LOSS


def test_an_unknown_group_is_a_clear_error() -> None:
    with pytest.raises(gancore.PluginError, match=r"group must be one of .*received 'model'"):
        gancore.list_plugins("model")


# --- phase two: loading ----------------------------------------------------------------------


def test_a_plugin_that_fails_to_import_is_listed_and_raises_when_loaded(
    installed: Dist, exploding: str
) -> None:
    installed("gancore-boom", "2.5", {"architectures": {"boom": f"{exploding}:builder"}})
    assert "boom" in names("architectures")
    with pytest.raises(gancore.PluginLoadError) as caught:
        _registry.load_plugin("architectures", "boom")
    message = str(caught.value)
    assert "gancore-boom" in message
    assert f"boom = {exploding}:builder" in message
    assert "the plugin module was imported" in message
    assert isinstance(caught.value.__cause__, RuntimeError)
    # The user's path to it: a clear error, not a traceback.
    with pytest.raises(gancore.PluginLoadError, match="gancore-boom"):
        build_architecture("boom", (2,))


def test_a_missing_module_is_a_load_error_chained_to_it(installed: Dist) -> None:
    installed("gx-gone", entry_points={"losses": {"gone": "gancore_no_such_module:LOSS"}})
    with pytest.raises(gancore.PluginLoadError, match="gx-gone") as caught:
        _registry.load_plugin("losses", "gone")
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)


@pytest.mark.parametrize(
    ("group", "obj", "kind"),
    [
        ("architectures", "NOT_A_BUILDER", "architecture builder"),
        ("losses", "NOT_A_LOSS", "critic_loss"),
        ("datasets", "NOT_A_LOADER", "dataset loader"),
        ("backends", "NotABackend", "backend class"),
    ],
)
def test_a_plugin_of_the_wrong_kind_is_a_load_error(installed: Dist, group: str, obj: str,
                                                    kind: str) -> None:
    installed("gx-wrong", "0.3", {group: {"wrong": here(obj)}})
    with pytest.raises(gancore.PluginLoadError) as caught:
        _registry.load_plugin(group, "wrong")
    message = str(caught.value)
    assert "gx-wrong" in message and here(obj) in message
    assert kind in message
    assert f"received {type(globals()[obj]).__name__}" in message


def test_a_builder_that_builds_the_wrong_thing_is_a_clear_error(installed: Dist) -> None:
    installed("gx-arch", entry_points={"architectures": {"odd": here("good_builder")}})
    with pytest.raises(gancore.InvalidArgumentError,
                       match=r"architecture 'odd' must build an ArchitecturePair or a "
                             r"NativeArchitecture; received str"):
        build_architecture("odd", (2,))


def test_the_right_kind_loads_and_is_cached(installed: Dist) -> None:
    installed("gx-loss", entry_points={"losses": {"mine": here("GOOD_LOSS")}})
    assert _registry.load_plugin("losses", "mine") is GOOD_LOSS
    assert _registry.load_plugin("losses", "mine") is GOOD_LOSS
    assert _registry.load_plugin.cache_info().hits >= 1


# --- unknown names ----------------------------------------------------------------------------


def test_an_unknown_name_lists_what_is_installed(installed: Dist) -> None:
    installed("gx-arch", entry_points={"architectures": {"mine": here("good_builder")}})
    with pytest.raises(gancore.PluginNotFoundError) as caught:
        _registry.load_plugin("architectures", "nope")
    message = str(caught.value)
    assert message.startswith("architecture 'nope' is not installed")
    assert f"installed architectures: {', '.join(names('architectures'))}" in message
    assert "mine" in message and "dcgan" in message
    assert "pip install" not in message  # gancore knows no distribution for that name


@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_a_missing_framework_backend_says_what_to_pip_install(installed: Dist,
                                                              backend: str) -> None:
    installed("gx-nothing")  # no backend entry points at all: only the numpy reference
    with pytest.raises(gancore.PluginNotFoundError) as caught:
        _registry.load_plugin("backends", backend)
    message = str(caught.value)
    assert f"pip install gancore[{backend}]" in message
    assert "installed backends: numpy" in message


def test_the_cli_reports_an_unknown_architecture_without_a_traceback(installed: Dist,
                                                                     tmp_path: Path) -> None:
    status, _, err = run_cli(["train", "--arch", "nope", "--steps", "1", "--no-progress",
                                "--out", str(tmp_path / "run")])
    assert status == 2
    assert err.startswith("gancore: error: architecture 'nope' is not installed")
    assert "dcgan" in err and "Traceback" not in err


# --- duplicates -------------------------------------------------------------------------------


def test_a_plugin_cannot_shadow_a_builtin(installed: Dist) -> None:
    installed("gx-shadow", "0.1", {"architectures": {"dcgan": here("good_builder")}})
    with pytest.warns(gancore.PluginWarning) as record:
        infos = gancore.list_plugins("architectures")
    (message,) = [str(w.message) for w in record]
    assert "'dcgan' is registered twice" in message
    assert "gx-shadow" in message and message.endswith("using the one from gancore")
    assert [i.distribution for i in infos if i.name == "dcgan"] == ["gancore"]
    assert _registry.load_plugin("architectures", "dcgan") is dcgan


def test_two_distributions_with_one_name_warn_and_one_wins(installed: Dist) -> None:
    installed("gx-second", entry_points={"losses": {"same": here("NOT_A_LOSS")}})
    installed("gx-first", entry_points={"losses": {"same": here("GOOD_LOSS")}})
    with pytest.warns(gancore.PluginWarning, match="'same' is registered twice") as record:
        (info,) = [i for i in gancore.list_plugins("losses") if i.name == "same"]
    (message,) = [str(w.message) for w in record]
    assert "gx-first" in message and "gx-second" in message
    # Deterministic: the smaller entry-point value wins, whatever the install order.
    assert message.endswith(f"using the one from {info.distribution}")
    assert info.value == min(here("GOOD_LOSS"), here("NOT_A_LOSS"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the warning is given once, not on every lookup
        assert names("losses").count("same") == 1


def test_gancore_own_backend_wins_over_a_third_party_one(installed: Dist) -> None:
    # "evil" sorts before "gancore_torch": the winner is chosen by distribution first.
    installed("gx-evil", entry_points={"backends": {"torch": "evil:Backend"}})
    installed("gancore-torch", "0.1.0",
              {"backends": {"torch": "gancore_torch:TorchBackend"}})
    with pytest.warns(gancore.PluginWarning, match="using the one from gancore-torch"):
        (info,) = [i for i in gancore.list_plugins("backends") if i.name == "torch"]
    assert info.distribution == "gancore-torch"


# --- switches: GANCORE_NO_PLUGINS and GANCORE_BLOCK_PLUGINS ---------------------------------


@pytest.fixture
def example_and_own(installed: Dist) -> Dist:
    """A third-party distribution and one of gancore's own, both with entry points."""
    installed("gancore-example", "0.1.0", {
        "architectures": {"tiny_mlp": here("good_builder"), "other": here("good_builder")},
        "losses": {"tiny_mlp": here("GOOD_LOSS")},
    })
    installed("gancore-torch", "0.1.0", {"backends": {"torch": "gancore_torch:TorchBackend"}})
    return installed


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_no_plugins_hides_third_party_plugins_only(example_and_own: Dist,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   value: str) -> None:
    assert {"tiny_mlp", "other"} <= set(names("architectures"))
    monkeypatch.setenv("GANCORE_NO_PLUGINS", value)
    assert {"tiny_mlp", "other"} <= set(names("architectures"))  # cached until refresh
    gancore.refresh()
    assert not {"tiny_mlp", "other"} & set(names("architectures"))
    assert "dcgan" in names("architectures")  # gancore's builtins stay
    assert names("backends") == ["numpy", "torch"]  # and so do its backend distributions
    with pytest.raises(gancore.PluginNotFoundError, match="'tiny_mlp' is not installed"):
        _registry.load_plugin("architectures", "tiny_mlp")


@pytest.mark.parametrize("value", ["0", "", "no"])
def test_no_plugins_off_values_hide_nothing(example_and_own: Dist,
                                            monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("GANCORE_NO_PLUGINS", value)
    gancore.refresh()
    assert {"tiny_mlp", "other"} <= set(names("architectures"))


@pytest.mark.parametrize(
    ("blocked", "architectures", "losses"),
    [
        ("architectures:tiny_mlp", ["other"], ["tiny_mlp"]),
        ("tiny_mlp", ["other"], []),  # a bare name blocks it in every group
        ("dist=gancore-example", [], []),
        ("architectures:tiny_mlp,dist=gancore-example", [], []),
        (" losses:tiny_mlp , ,", ["other", "tiny_mlp"], []),
    ],
)
def test_block_plugins_skips_the_named_ones(example_and_own: Dist,
                                            monkeypatch: pytest.MonkeyPatch, blocked: str,
                                            architectures: list[str], losses: list[str]) -> None:
    monkeypatch.setenv("GANCORE_BLOCK_PLUGINS", blocked)
    gancore.refresh()
    ours = [i.name for i in gancore.list_plugins("architectures")
            if i.distribution == "gancore-example"]
    assert ours == architectures
    assert [i.name for i in gancore.list_plugins("losses")
            if i.distribution == "gancore-example"] == losses
    assert "dcgan" in names("architectures")


def test_blocking_a_shadowing_plugin_silences_its_warning(installed: Dist,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    installed("gx-shadow", entry_points={"architectures": {"dcgan": here("good_builder")}})
    monkeypatch.setenv("GANCORE_BLOCK_PLUGINS", "dist=gx-shadow")
    gancore.refresh()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "dcgan" in names("architectures")


# --- backends ---------------------------------------------------------------------------------


def test_a_broken_backend_leaves_the_others_working(installed: Dist, exploding: str) -> None:
    installed("gancore-torch", "0.1.0", {"backends": {"torch": "gancore_torch:TorchBackend"}})
    installed("gx-broken", "9.9", {"backends": {"broken": f"{exploding}:Backend"}})
    assert gancore.backends() == ["broken", "numpy", "torch"]
    with pytest.warns(gancore.PluginWarning, match=r"backend 'broken' failed to load .*gx-broken"):
        described = gancore.describe_backends()
    assert sorted(info.name for info in described) == ["numpy", "torch"]
    with pytest.raises(gancore.PluginLoadError, match="gx-broken"):
        _registry.load_plugin("backends", "broken")


# --- `gancore plugins` ------------------------------------------------------------------------


def test_cli_plugins_shows_every_plugin_and_whether_it_loads(installed: Dist,
                                                            exploding: str) -> None:
    installed("gx-good", "1.2.3", {"losses": {"mine": here("GOOD_LOSS")}})
    installed("gx-boom", "4.5", {"architectures": {"boom": f"{exploding}:builder"}})
    installed("gx-wrong", "0.3", {"datasets": {"wrong": here("NOT_A_LOADER")}})
    status, out, err = run_cli(["plugins"])
    assert status == 0, err
    header, rule, *rows = out.splitlines()
    assert header.split() == ["group", "name", "distribution", "version", "loads"]
    assert set(rule.replace(" ", "")) == {"-"}
    table = {tuple(row.split()[:2]): row.split()[2:] for row in rows}
    assert table[("losses", "mine")] == ["gx-good", "1.2.3", "ok"]
    assert table[("architectures", "dcgan")] == ["gancore", gancore.__version__, "ok"]
    boom = table[("architectures", "boom")]
    assert boom[:3] == ["gx-boom", "4.5", "broken:"]
    assert "the plugin module was imported" in " ".join(boom)
    assert table[("datasets", "wrong")][:3] == ["gx-wrong", "0.3", "broken:"]
    # Sorted by group (in GROUPS order), then by name.
    keys = [tuple(row.split()[:2]) for row in rows]
    order = list(_registry.GROUPS)
    assert keys == sorted(keys, key=lambda k: (order.index(k[0]), k[1]))
