"""Checks of built distributions for `.ci/release-check` (standard library only).

    python release_checks.py dists DIST_DIR           -> prints the common version
    python release_checks.py report REPORT DIST_DIR   -> gancore* came from DIST_DIR
    python release_checks.py backends EXTRA SRC       -> the backends EXTRA must give
"""

from __future__ import annotations

import email.parser
import json
import re
import sys
import tarfile
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlparse

#: Files every sdist must hold (its tests import conftest.py and _helpers.py).
SDIST_FILES = {"gancore": ("LICENSE", "CHANGELOG.md", "README.md", "tests/conftest.py",
                           "tests/_helpers.py", "tests/test_release.py")}


def _fail(message: str) -> None:
    sys.exit(f"release check: {message}")


def _metadata(wheel: Path) -> tuple[email.message.Message, list[str]]:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(z.read(meta).decode()), names


def check_dists(dist_dir: Path) -> str:
    """Every wheel has a sdist, a license, a long description, the common version, and
    pins the other gancore distributions to it; the sdists hold what they must."""
    wheels = sorted(dist_dir.glob("*.whl"))
    if not wheels:
        _fail(f"no wheels in {dist_dir}")
    versions: dict[str, str] = {}
    for wheel in wheels:
        meta, names = _metadata(wheel)
        name, version = meta["Name"], meta["Version"]
        versions[name] = version
        if not any(re.search(r"\.dist-info/licen[cs]es/LICENSE$", n) for n in names):
            _fail(f"{wheel.name} carries no LICENSE")
        if meta["License-Expression"] != "Apache-2.0" or not meta["Author"]:
            _fail(f"{wheel.name}: license expression or author missing")
        if len(meta.get_payload() or "") < 200 or "Project-URL" not in meta:
            _fail(f"{wheel.name}: no long description or no project URLs")
        for req in meta.get_all("Requires-Dist") or []:
            dep = re.match(r"(gancore(?:-\w+)?)(?:\[[^\]]*\])?\s*([^;]*)", req)
            # The example plugin is a third party's: it takes a range, like one.
            if dep and name != "gancore-example" and dep.group(2).strip() != f"=={version}":
                _fail(f"{wheel.name} requires {req!r}: gancore distributions pin =={version}")
        sdist = dist_dir / f"{name.replace('-', '_')}-{version}.tar.gz"
        if not sdist.is_file():
            _fail(f"no sdist {sdist.name} beside {wheel.name}")
        with tarfile.open(sdist) as tar:
            held = {m.name.split("/", 1)[-1] for m in tar.getmembers()}
        missing = [f for f in ("LICENSE", "README.md", *SDIST_FILES.get(name, ()))
                   if f not in held]
        if missing:
            _fail(f"{sdist.name} lacks {', '.join(missing)}")
    if len(set(versions.values())) != 1:
        _fail(f"the distributions do not share one version: {versions}")
    return next(iter(versions.values()))


def check_report(report: Path, dist_dir: Path) -> None:
    """Every gancore distribution that pip installed came from the wheels just built."""
    installed = json.loads(report.read_text())["install"]
    ours = [item for item in installed if item["metadata"]["name"].startswith("gancore")]
    if not ours:
        _fail(f"{report}: pip installed no gancore distribution")
    for item in ours:
        path = Path(unquote(urlparse(item["download_info"]["url"]).path))
        if path.parent.resolve() != dist_dir.resolve():
            _fail(f"{item['metadata']['name']} came from {path}, not from {dist_dir}")


def expected_backends(extra: str, src: Path) -> list[str]:
    """The backends an extra installs, by its name: ``all`` is every distribution under
    ``backends/`` (``gancore-X`` gives backend ``X``), ``tensorflow-cpu`` is tensorflow."""
    if extra == "all":
        return sorted(p.parent.name.removeprefix("gancore-")
                      for p in (src / "backends").glob("*/pyproject.toml"))
    return [extra.removesuffix("-cpu")]


if __name__ == "__main__":
    if sys.argv[1:2] == ["dists"]:
        print(check_dists(Path(sys.argv[2])))
    elif sys.argv[1:2] == ["report"]:
        check_report(Path(sys.argv[2]), Path(sys.argv[3]))
    elif sys.argv[1:2] == ["backends"]:
        print(*expected_backends(sys.argv[2], Path(sys.argv[3])))
    else:
        _fail(f"usage: {__doc__}")
