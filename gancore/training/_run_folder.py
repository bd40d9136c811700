"""A run's output folder: its settings (``run.json``), a lock while a training writes it, and
the rule that nothing a run made is replaced without being asked to."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from gancore._errors import RunFolderError
from gancore.data._json import read_json
from gancore.training._checkpoint import CHECKPOINTS, LATEST, latest_checkpoint

__all__ = ["RunFolder"]

SETTINGS = "run.json"
_LOCK = ".lock"
#: What a training writes into its folder (and what --overwrite removes; nothing else is).
_OUTPUTS = (SETTINGS, "metrics.jsonl", "losses.png", "progress.gif", "samples.png", LATEST,
            CHECKPOINTS)


class RunFolder:
    """The folder of one run."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def holds_run(self) -> bool:
        """Whether a training has written here (settings, metrics or a checkpoint)."""
        return any((self.path / name).exists() or (self.path / name).is_symlink()
                   for name in (SETTINGS, "metrics.jsonl", LATEST, CHECKPOINTS))

    @classmethod
    def for_new_run(cls, out_dir: str | os.PathLike[str] | None, default: Path,
                    overwrite: bool = False) -> RunFolder:
        """The folder a new run writes. An explicit `out_dir` that holds a run is refused
        unless `overwrite` (which removes that run's outputs, nothing else); without one,
        the default name gets the first free suffix (``runs/dcgan-torch-2``, ...)."""
        if out_dir is not None:
            if not str(out_dir):
                raise RunFolderError("out must be a folder path; received ''")
            folder = cls(out_dir)
            if folder.path.exists() and not folder.path.is_dir():
                raise RunFolderError(
                    f"out must be a folder; received {str(folder.path)!r}, which is a file"
                )
            if folder.holds_run():
                if not overwrite:
                    raise RunFolderError(
                        f"{folder.path} already holds a run: resume it with `gancore train "
                        f"--resume {folder.path}`, replace it with --overwrite, or choose "
                        f"another --out"
                    )
                folder.clear()
            return folder
        folder, n = cls(default), 1
        while folder.holds_run():
            n += 1
            folder = cls(default.with_name(f"{default.name}-{n}"))
        return folder

    def clear(self) -> None:
        """Remove a previous run's outputs (settings, metrics, pictures, checkpoints)."""
        for name in _OUTPUTS:
            path = self.path / name
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.is_dir():
                shutil.rmtree(path)
        for frame in self.path.glob("samples_*.png"):
            frame.unlink()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for one training: another one that tries gets a `RunFolderError`.
        The operating system drops the lock when the process ends, kill -9 included."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            handle = open(self.path / _LOCK, "a+")  # noqa: SIM115 (held for the block)
        except OSError as e:
            raise RunFolderError(
                f"out must be a folder gancore can create and write; received "
                f"{str(self.path)!r} ({type(e).__name__}: {e.strerror or e})"
            ) from None
        try:
            try:
                import fcntl
            except ImportError:  # Windows: no advisory locks; the folder rule still holds
                fcntl = None  # type: ignore[assignment]
            if fcntl is not None:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise RunFolderError(
                        f"{self.path} is being written by another training (pid {holder}); "
                        f"wait for it or choose another --out"
                    ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            handle.close()

    def settings(self) -> dict[str, Any]:
        """``run.json`` of an existing run."""
        path = self.path / SETTINGS
        if not path.is_file():
            raise RunFolderError(
                f"{self.path} is not a gancore run folder (it has no {SETTINGS}); received "
                f"{str(self.path)!r}"
            )
        value = read_json(path, what="run settings", error=RunFolderError)
        if not isinstance(value, dict) or not isinstance(value.get("settings"), dict):
            raise RunFolderError(
                f"{path} holds no run settings (it was written by an older gancore, whose "
                f"runs cannot be resumed)"
            )
        return value

    def write_settings(self, record: Mapping[str, Any]) -> None:
        """Replace ``run.json`` atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".{SETTINGS}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(record, indent=2))
        os.replace(tmp, self.path / SETTINGS)

    def latest_checkpoint(self, clean: bool = True) -> Path | None:
        return latest_checkpoint(self.path, clean=clean)
