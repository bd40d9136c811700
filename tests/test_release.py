"""What a release must hold: the distributions version together and carry their metadata,
the extras choose the frameworks' builds, and the user-facing details (`--version`, install
hints that every shell takes, folder modes, a quiet TensorFlow start-up, `fit()`'s progress
bar). `.ci/release-check` builds and
installs the distributions and runs this file against the installed packages."""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import shlex
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from _helpers import load_backend

import gancore

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT = (ROOT / "pyproject.toml").is_file()
IN_RELEASE_CHECK = bool(os.environ.get("GANCORE_RELEASE_CHECK"))
needs_checkout = pytest.mark.skipif(
    not CHECKOUT or IN_RELEASE_CHECK, reason="reads the checkout's pyproject files"
)


def _project(folder: Path) -> dict[str, Any]:
    return tomllib.loads((folder / "pyproject.toml").read_text())["project"]


def _distributions() -> dict[str, Path]:
    folders = [ROOT, *sorted(ROOT.glob("backends/*/")), *sorted(ROOT.glob("plugins/*/"))]
    return {_project(f)["name"]: f for f in folders if (f / "pyproject.toml").is_file()}


def _names(requirements: list[str]) -> list[str]:
    return [re.match(r"[\w.-]+(\[[^\]]*\])?", r).group(0) for r in requirements]  # type: ignore[union-attr]


def _env() -> dict[str, str]:
    return {**os.environ, "GANCORE_THREADS": "1"}


@needs_checkout
def test_every_distribution_shares_the_version_and_pins_the_others_to_it() -> None:
    dists = _distributions()
    version = _project(ROOT)["version"]
    assert {name: _project(f)["version"] for name, f in dists.items()} == dict.fromkeys(
        dists, version)
    backends = [name for name, f in dists.items() if f.parent.name == "backends"]
    assert {"gancore-torch", "gancore-tensorflow"} <= set(backends)
    extras = _project(ROOT)["optional-dependencies"]
    for name in backends:
        assert f"gancore=={version}" in _project(dists[name])["dependencies"], name
        # every backend is in `all`, at the common version
        assert any(re.fullmatch(rf"{name}(\[[\w-]+\])?=={re.escape(version)}", r)
                   for r in extras["all"]), (name, extras["all"])
    for extra, requirements in extras.items():
        for requirement in requirements:
            if requirement.startswith("gancore"):
                assert requirement.endswith(f"=={version}"), (extra, requirement)


@needs_checkout
@pytest.mark.parametrize("name", sorted(_distributions()) if CHECKOUT else [])
def test_each_distribution_carries_its_license_readme_author_and_urls(name: str) -> None:
    folder = _distributions()[name]
    project = _project(folder)
    assert project["license"] == "Apache-2.0"
    for path in (*project["license-files"], project["readme"]):
        assert (folder / path).is_file(), path
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert project["authors"] and project["urls"]
    readme = (folder / project["readme"]).read_text()
    # an index page has no checkout to resolve a relative link or image against
    assert not [target for target in _links(readme) if not target.startswith("https://")]


@needs_checkout
def test_every_project_url_is_under_the_one_project_address() -> None:
    """One address to confirm (CHANGELOG, Unreleased) and to change in one go."""
    home = _project(ROOT)["urls"]["Homepage"]
    urls = {f"{name} {key}": url for name, folder in _distributions().items()
            for key, url in _project(folder)["urls"].items()}
    assert [k for k, url in urls.items() if url != home and not url.startswith(home + "/")
            ] == []
    assert "gancore-example Source" in urls


def _links(markdown: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", markdown)


@needs_checkout
def test_readme_links_point_at_files_of_this_repository() -> None:
    """Links into the repository name files that exist, so none is broken on the index."""
    source = _project(ROOT)["urls"]["Source"]
    prefixes = (f"{source}/blob/main/", f"{source}/tree/main/",
                source.replace("https://github.com/", "https://raw.githubusercontent.com/")
                + "/main/")
    readmes = [f / _project(f)["readme"] for f in _distributions().values()]
    targets = [t for readme in readmes for t in _links(readme.read_text())]
    inside = [t.split("#")[0] for t in targets if t.startswith(prefixes)]
    assert len(inside) >= 5
    for target in inside:
        path = next(target.removeprefix(p) for p in prefixes if target.startswith(p))
        assert (ROOT / path).exists(), target


@needs_checkout
def test_the_extras_give_each_user_the_tensorflow_build_they_expect() -> None:
    extras = _project(ROOT)["optional-dependencies"]
    tf = _project(ROOT / "backends" / "gancore-tensorflow")
    # the backend itself requires no TensorFlow build (they clash with each other) ...
    assert not [n for n in _names(tf["dependencies"]) if n.startswith(("tensorflow", "tf-"))]
    # ... the extras choose one: the full build, or the CPU-only one
    assert _names(extras["tensorflow"]) == ["gancore-tensorflow[tensorflow]"]
    assert _names(extras["tensorflow-cpu"]) == ["gancore-tensorflow[tensorflow-cpu]"]
    assert _names(tf["optional-dependencies"]["tensorflow"]) == ["tensorflow"]
    cpu = tf["optional-dependencies"]["tensorflow-cpu"]
    assert next(r for r in cpu if r.startswith("tensorflow-cpu")).endswith(
        "sys_platform != 'darwin'")
    assert "gancore-tensorflow[tensorflow]==" + _project(ROOT)["version"] in extras["all"]
    # development and CI stay on the CPU wheels
    pins = (ROOT / "constraints.txt").read_text()
    assert re.search(r"^tensorflow-cpu==", pins, re.M) and re.search(r"^torch==", pins, re.M)


@needs_checkout
def test_the_test_extra_holds_test_dependencies_and_dev_the_tools() -> None:
    extras = _project(ROOT)["optional-dependencies"]
    tools = {"ruff", "mypy", "build", "twine"}
    assert not tools & {re.split(r"[<>=\[; ]", r)[0] for r in extras["test"]}
    assert tools <= {re.split(r"[<>=\[; ]", r)[0] for r in extras["dev"]}


@needs_checkout
def test_the_sdist_ships_what_the_tests_import() -> None:
    manifest = (ROOT / "MANIFEST.in").read_text().split()
    assert "tests" in manifest[manifest.index("graft") + 1:]
    assert {"LICENSE", "CHANGELOG.md"} <= set(manifest)


def test_gancore_version_prints_the_installed_version() -> None:
    out = subprocess.run([sys.executable, "-m", "gancore", "--version"], capture_output=True,
                         text=True, env=_env(), check=True)
    assert out.stdout == f"gancore {md.version('gancore')}\n"
    assert gancore.__version__ == md.version("gancore")


@pytest.mark.skipif(not IN_RELEASE_CHECK, reason="only against the installed wheels")
def test_the_installed_packages_are_under_test() -> None:
    """In the release check, gancore comes from the installed wheel, not from a checkout."""
    assert "site-packages" in Path(gancore.__file__).parts
    assert not Path(gancore.__file__).is_relative_to(ROOT)


def test_run_and_checkpoint_folders_are_readable_by_the_team(tmp_path: Path) -> None:
    load_backend("torch")
    from gancore.training import train

    old = os.umask(0o022)
    try:
        train("ring", backend="torch", steps=2, out_dir=tmp_path / "run", progress=False,
              config={"batch_size": 8}, threads=1)
    finally:
        os.umask(old)
    paths = [p for p in (tmp_path / "run").rglob("*") if not p.is_symlink()]
    assert any(p.name == "arrays.npz" for p in paths)
    for path in [tmp_path / "run", *paths]:
        mode = stat.S_IMODE(path.stat().st_mode)
        wanted = 0o755 if path.is_dir() else 0o644
        assert mode & wanted == wanted, (path, oct(mode))


def test_tensorflow_starts_without_its_log_lines() -> None:
    load_backend("tensorflow")
    code = ("import gancore; b = gancore.backend('tensorflow'); "
            "print(float(b.tf.reduce_sum(b.tf.ones(3))))")
    env = {k: v for k, v in _env().items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, check=True)
    assert quiet.stdout == "3.0\n"
    assert "absl" not in quiet.stderr and "oneDNN" not in quiet.stderr, quiet.stderr
    # asked for, the lines are there: the quiet start-up hides them, TensorFlow still says them
    loud = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**env, "TF_CPP_MIN_LOG_LEVEL": "0"}, check=True)
    assert "absl::InitializeLog" in loud.stderr or "port.cc" in loud.stderr, loud.stderr


def test_the_start_up_filter_keeps_every_other_line() -> None:
    load_backend("tensorflow")
    from gancore_tensorflow._backend import quiet_startup

    log = ("WARNING: All log messages before absl::InitializeLog() is called are written to "
           "STDERR\n"
           "I0000 00:00:1796223379.095585    7052 port.cc:153] oneDNN custom operations are "
           "on. You may see slightly different numerical results.\n"
           "W0000 00:00:1796223379.1    7052 gpu_device.cc:2] Cannot dlopen some GPU libraries.\n"
           "a user's own message\n")
    assert quiet_startup(log) == ("W0000 00:00:1796223379.1    7052 gpu_device.cc:2] Cannot "
                                  "dlopen some GPU libraries.\na user's own message\n")


def _fit_output(capsys: pytest.CaptureFixture[str], callbacks: Any = None,
                **fit: Any) -> str:
    load_backend("torch")
    from gancore.architectures import dcgan
    from gancore.data import load_digits
    from gancore.training import GANTrainer, TrainConfig

    data = load_digits()
    kwargs = {} if callbacks is None else {"callbacks": callbacks}
    trainer = GANTrainer(dcgan(data.shape, latent_dim=8), data,
                         TrainConfig(steps=2, batch_size=8), backend="torch", **kwargs)
    capsys.readouterr()
    trainer.fit(**fit)
    assert trainer.step == 2
    return capsys.readouterr().err


def test_fit_shows_progress_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert "2/2" in _fit_output(capsys)
    assert "2/2" not in _fit_output(capsys, progress=False)


def test_fit_with_callbacks_shows_what_they_show(capsys: pytest.CaptureFixture[str]) -> None:
    from gancore.training import Callback

    assert _fit_output(capsys, callbacks=[Callback()]) == ""
    assert "2/2" in _fit_output(capsys, callbacks=[Callback()], progress=True)


@pytest.mark.skipif(IN_RELEASE_CHECK, reason="the trainer's behaviour, not the packages': "
                    "two worker processes cost a minute of the release check")
def test_fit_shows_progress_on_worker_0_only(tmp_path: Path) -> None:
    """Two workers of one job: one progress bar, not one per worker on the same terminal."""
    load_backend("torch")
    from gancore.distributed import worker_environments

    code = ("from gancore.architectures import dcgan; from gancore.data import load_digits; "
            "from gancore.distributed import from_environment; "
            "from gancore.training import GANTrainer, TrainConfig; data = load_digits(); "
            "GANTrainer(dcgan(data.shape, latent_dim=8), data, TrainConfig(steps=2, "
            "batch_size=8), backend='torch', workers=from_environment('torch')).fit()")
    base = {**_env(), "GANCORE_WORKER_TIMEOUT": "120"}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for env in worker_environments("torch", 2, base=base)]
    errs = [proc.communicate(timeout=300)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errs
    assert "2/2" in errs[0] and "2/2" not in errs[1], errs


# --- install hints ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["torch", "tensorflow", "jax"])
def test_install_hints_are_quoted_and_name_an_extra_of_gancore(name: str) -> None:
    from gancore import _registry

    hint = _registry.install_hint("backends", name)
    # quoted, the brackets reach pip as they are: zsh would read them as a file pattern
    assert hint == f'pip install "gancore[{name}]"'
    assert shlex.split(hint) == ["pip", "install", f"gancore[{name}]"]
    assert name in (md.metadata("gancore").get_all("Provides-Extra") or [])


def test_a_missing_backend_on_the_command_line_says_what_to_install(tmp_path: Path) -> None:
    env = {**_env(), "GANCORE_BLOCK_PLUGINS": "backends:jax"}  # as if gancore-jax were absent
    out = subprocess.run([sys.executable, "-m", "gancore", "train", "--backend", "jax",
                          "--steps", "1", "--no-progress", "--out", str(tmp_path / "run")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(
        """gancore: error: backend 'jax' is not installed: pip install "gancore[jax]" """
        "(installed backends: "), out.stderr


@pytest.mark.parametrize(("name", "framework", "how"), [
    ("torch", "torch", 'install it with: pip install "gancore[torch]"'),
    ("mine", "myframework", "install myframework for it"),  # no extra of gancore for it
])
def test_a_backend_whose_framework_fails_to_import_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, name: str, framework: str, how: str) -> None:
    from gancore import _backend, _registry

    class Unimportable:
        def __init__(self) -> None:
            raise ImportError(f"No module named {framework!r}")

    Unimportable.framework = framework  # type: ignore[attr-defined]
    monkeypatch.setattr(_registry, "load_plugin", lambda group, plugin: Unimportable)
    monkeypatch.delitem(_backend._INSTANCES, name, raising=False)
    with pytest.raises(gancore.PluginLoadError) as caught:
        gancore.backend(name)
    assert str(caught.value) == (f"backend {name!r} needs {framework}, which failed to import "
                                 f"(No module named {framework!r}); {how}")
    assert isinstance(caught.value.__cause__, ImportError)


@pytest.mark.usefixtures("plugin_switches_off")
def test_switching_third_party_plugins_off_keeps_every_gancore_backend(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from gancore import _registry

    ours = {i.name for i in _registry.list_plugins("backends")
            if i.builtin or i.distribution.lower().startswith("gancore-")}
    monkeypatch.setenv(_registry.DISABLE_ENV, "1")
    _registry.refresh()
    assert ours <= set(_registry.plugin_names("backends"))
