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


class RaisingLoss(GoodLoss):
    """A loss plugin with a bug: its critic loss divides by zero."""

    def critic_loss(self, real: Any, fake: Any) -> Any:
        return 1 // 0


RAISING_LOSS = RaisingLoss()
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


@pytest.mark.parametrize("backend", ["torch", "tensorflow", "jax"])
def test_a_missing_framework_backend_says_what_to_pip_install(installed: Dist,
                                                              backend: str) -> None:
    installed("gx-nothing")  # no backend entry points at all: only the numpy reference
    with pytest.raises(gancore.PluginNotFoundError) as caught:
        _registry.load_plugin("backends", backend)
    message = str(caught.value)
    assert f'pip install "gancore[{backend}]"' in message  # quoted, for zsh
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


# --- plugins that raise, exit or lie (issue 18) ------------------------------------------------


def writes_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                  source: str) -> str:
    """A module `name` on sys.path whose body is `source`; returns its name."""
    folder = tmp_path / f"modules-{name}"
    folder.mkdir()
    (folder / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def raising_builder(sample_shape: tuple[int, ...], **options: Any) -> Any:
    raise ZeroDivisionError("the plugin's own bug")


def exiting_loader(**options: Any) -> Any:
    raise SystemExit(4)


def returns_a_string(n: int = 1) -> Any:
    return "not a dataset"


class DescribeRaises:
    """A backend class whose describe() raises."""

    name = "liar"
    array_modules = ("liar_framework",)

    @classmethod
    def describe(cls) -> Any:
        raise RuntimeError("cannot find my framework's version")


class DescribeLies:
    """A backend class whose describe() returns a string, not a BackendInfo."""

    name = "liar"
    array_modules = ("liar_framework",)

    @classmethod
    def describe(cls) -> Any:
        return "liar 1.0"


class FailsToStart:
    """A backend class whose constructor raises something other than ImportError."""

    name = "stuck"
    array_modules = ("stuck_framework",)

    @classmethod
    def describe(cls) -> Any:
        return gancore.BackendInfo("stuck", "stuck", None, "gx-stuck", "1.0", ("cpu",))

    def __init__(self) -> None:
        raise RuntimeError("no device")


class _FractionOps:
    """ArrayOps enough for dispatch: `fractions.Fraction` objects are this framework's."""

    name = "fractions"

    def is_array(self, x: Any) -> bool:
        import fractions

        return isinstance(x, fractions.Fraction)


class FractionBackend:
    """A backend whose arrays are `fractions.Fraction`s (the standard library stands in for
    a framework: already imported, and no gancore backend claims it)."""

    name = "fractions"
    array_modules = ("fractions",)

    @classmethod
    def describe(cls) -> Any:
        return gancore.BackendInfo("fractions", "fractions", "1", "gx-fractions", "1.0",
                                   ("cpu",))

    def __init__(self) -> None:
        self.ops = _FractionOps()


def test_a_plugin_that_exits_at_import_is_contained(installed: Dist, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    module = writes_module(tmp_path, monkeypatch, "gancore_test_exiting_plugin",
                           "import sys\nsys.exit(3)\n")
    installed("gx-exit", "0.1", {"architectures": {"quits": f"{module}:builder"}})
    with pytest.raises(gancore.PluginLoadError, match=r"'quits' failed to load .*gx-exit.*"
                                                      r"SystemExit: 3") as caught:
        _registry.load_plugin("architectures", "quits")
    assert isinstance(caught.value.__cause__, SystemExit)
    status, out, err = run_cli(["plugins"])
    assert status == 0, err
    (row,) = [line for line in out.splitlines() if " quits " in line]
    assert row.split()[2:5] == ["gx-exit", "0.1", "broken:"] and "SystemExit" in row
    assert "dcgan" in out  # the others are listed


def test_a_keyboard_interrupt_at_plugin_import_is_a_broken_plugin(
        installed: Dist, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = writes_module(tmp_path, monkeypatch, "gancore_test_interrupting_plugin",
                           "raise KeyboardInterrupt\n")
    installed("gx-int", entry_points={"losses": {"stop": f"{module}:LOSS"}})
    with pytest.raises(gancore.PluginLoadError, match=r"loss 'stop' failed to load .*gx-int.*"
                                                      r"KeyboardInterrupt"):
        _registry.load_plugin("losses", "stop")


@pytest.mark.parametrize(("obj", "problem"), [
    ("DescribeRaises", "raised RuntimeError: cannot find my framework's version"),
    ("DescribeLies", "returned str, not a gancore.BackendInfo"),
])
def test_a_backend_whose_describe_breaks_leaves_the_others_listed(installed: Dist, obj: str,
                                                                  problem: str) -> None:
    installed("gx-liar", "6.6", {"backends": {"liar": here(obj)}})
    with pytest.warns(gancore.PluginWarning, match="backend 'liar'") as record:
        described = gancore.describe_backends()
    assert [i.name for i in described] == ["numpy"]
    (message,) = [str(w.message) for w in record]
    assert "gx-liar" in message and here(obj) in message and problem in message
    with pytest.warns(gancore.PluginWarning, match="backend 'liar'"):
        status, out, err = run_cli(["backends"])
    assert status == 0, err
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["numpy"]


def test_a_backend_that_fails_to_start_is_a_load_error(installed: Dist,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from gancore import _backend

    monkeypatch.setattr(_backend, "_INSTANCES", {})
    installed("gx-stuck", entry_points={"backends": {"stuck": here("FailsToStart")}})
    with pytest.raises(gancore.PluginLoadError,
                       match=r"backend 'stuck' \(entry point stuck = .*gx-stuck\) failed to "
                             r"start: RuntimeError: no device") as caught:
        gancore.backend("stuck")
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_dispatch_loads_only_the_backend_that_owns_the_array(
    installed: Dist, exploding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fractions

    from gancore import _backend

    monkeypatch.setattr(_backend, "_INSTANCES", {})
    monkeypatch.setattr(_backend, "_TYPE_CACHE", {})
    installed("gx-fractions", entry_points={"backends": {"fractions": here("FractionBackend")}})
    installed("gx-broken", entry_points={"backends": {"aaa_broken": f"{exploding}:Backend"}})
    started = gancore.backend("fractions")  # as a trainer starts its backend
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning about the unrelated broken plugin
        assert gancore.ops_for([("x", fractions.Fraction(1, 3))]) is started.ops
    assert exploding not in sys.modules


def test_dispatch_without_a_started_backend_says_which_ones_are_broken(
    installed: Dist, exploding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import decimal
    import fractions

    from gancore import _backend

    monkeypatch.setattr(_backend, "_INSTANCES", {})
    monkeypatch.setattr(_backend, "_TYPE_CACHE", {})
    installed("gx-fractions", entry_points={"backends": {"fractions": here("FractionBackend")}})
    installed("gx-broken", entry_points={"backends": {"aaa_broken": f"{exploding}:Backend"}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # The backend named after the array's module is tried first: nothing else loads.
        assert gancore.ops_for([("x", fractions.Fraction(1, 3))]).name == "fractions"
        assert exploding not in sys.modules
        # An array nobody claims: every backend is tried, and the error says why some could
        # not be.
        with pytest.raises(gancore.InvalidArgumentError,
                           match=r"received decimal.Decimal; backend 'aaa_broken' failed to "
                                 r"load .*gx-broken"):
            gancore.ops_for([("x", decimal.Decimal(1))])


def test_a_plugin_builder_that_raises_is_a_plugin_error_naming_it(installed: Dist,
                                                                  tmp_path: Path) -> None:
    installed("gx-buggy", "2.0", {"architectures": {"buggy": here("raising_builder")}})
    with pytest.raises(gancore.PluginError,
                       match=r"architecture 'buggy' \(entry point buggy = .*gx-buggy\) raised "
                             r"ZeroDivisionError: the plugin's own bug") as caught:
        build_architecture("buggy", (2,))
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    # (numpy cannot train, but the architecture is built first.)
    status, _, err = run_cli(["train", "--arch", "buggy", "--steps", "1", "--no-progress",
                              "--backend", "numpy", "--out", str(tmp_path / "run")])
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("gancore: error: architecture 'buggy'")
    assert "gx-buggy" in err and "Traceback" not in err


def test_a_plugin_loader_that_exits_or_returns_no_dataset_is_contained(installed: Dist) -> None:
    from gancore.training import load_dataset

    installed("gx-data", entry_points={"datasets": {"quits": here("exiting_loader"),
                                                    "odd": here("returns_a_string")}})
    with pytest.raises(gancore.PluginError, match=r"dataset 'quits' .*gx-data.* raised "
                                                  r"SystemExit: 4"):
        load_dataset("quits")
    with pytest.raises(gancore.InvalidArgumentError,
                       match=r"dataset 'odd' must load a gancore\.data\.Dataset or "
                             r"StreamingDataset; received str"):
        load_dataset("odd", {"n": 3})
    with pytest.raises(gancore.InvalidArgumentError,
                       match="dataset 'odd' options must be among n; received size"):
        load_dataset("odd", {"size": 3})


@pytest.mark.parametrize(("name", "options", "message"), [
    ("dcgan", {"bogus": 1}, "architecture 'dcgan' options must be among latent_dim, "
                            "num_classes, norm, semi_supervised, attention, dropout, "
                            "input_dropout, spectral_norm, minibatch_stddev; received bogus"),
    ("cyclegan", {"depth": 2, "colour": "red"}, "architecture 'cyclegan' options must be "
                                               "among .*depth.*; received colour"),
])
def test_unknown_architecture_options_are_named(name: str, options: dict[str, Any],
                                                message: str) -> None:
    with pytest.raises(gancore.InvalidArgumentError, match=message):
        build_architecture(name, (8, 8, 1), options)


def test_a_builders_own_type_error_is_not_taken_for_an_unknown_option(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from gancore.architectures import BUILTIN_ARCHITECTURES

    def buggy_mlp(sample_shape: tuple[int, ...], *, hidden: int = 4) -> Any:
        return len(hidden)  # type: ignore[arg-type]  # TypeError: the builder's own bug

    monkeypatch.setitem(BUILTIN_ARCHITECTURES, "mlp", buggy_mlp)
    with pytest.raises(gancore.InvalidArgumentError,
                       match=r"architecture 'mlp' failed with the options \{'hidden': 3\}: "
                             r"TypeError: object of type 'int' has no len\(\)") as caught:
        build_architecture("mlp", (2,), {"hidden": 3})
    assert isinstance(caught.value.__cause__, TypeError)


def test_a_loss_plugin_that_fails_or_does_not_reduce_is_named_before_training(
        installed: Dist) -> None:
    from gancore.training import resolve_loss

    installed("gancore-bad-losses", entry_points={
        "losses": {"raising": here("RAISING_LOSS"), "unreduced": here("GOOD_LOSS")}})
    with pytest.raises(gancore.PluginError, match=r"loss 'raising' \(entry point raising = "
                       r".*of distribution gancore-bad-losses\) fails on numpy scores: "
                       r"critic_loss raised ZeroDivisionError"):
        resolve_loss("raising")
    with pytest.raises(gancore.PluginError, match=r"loss 'unreduced' .*critic_loss must "
                                                  r"return one number; received float32 of "
                                                  r"shape \(2, 1\)"):
        resolve_loss("unreduced")
