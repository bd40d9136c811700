"""Plugin discovery through entry points, in two phases (STYLE.md 3 and 4).

Phase one reads entry-point metadata only (name, distribution, version) and never imports a
plugin; phase two imports a plugin when it is used. Both are cached; `refresh()` clears them.
Built-in plugins are registered in code and win over entry points of the same name.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from gancore._errors import PluginError, PluginLoadError, PluginNotFoundError

if TYPE_CHECKING:
    import importlib.metadata as md

__all__ = [
    "GROUPS",
    "PluginInfo",
    "PluginWarning",
    "install_hint",
    "list_plugins",
    "load_plugin",
    "origin",
    "plugin_names",
    "refresh",
    "register_builtin",
]

#: Short group names and their entry-point groups.
GROUPS: dict[str, str] = {
    "backends": "gancore.backends",
    "architectures": "gancore.architectures",
    "losses": "gancore.losses",
    "datasets": "gancore.datasets",
}

#: The word for one plugin of each group, for messages.
_SINGULAR = {"backends": "backend", "architectures": "architecture", "losses": "loss",
             "datasets": "dataset"}

#: The extras of gancore that install the plugins it knows by name.
_INSTALL_EXTRAS: dict[tuple[str, str], str] = {
    ("backends", "torch"): "torch",
    ("backends", "tensorflow"): "tensorflow",
    ("backends", "jax"): "jax",
}

#: Distributions that are part of gancore itself; never switched off by GANCORE_NO_PLUGINS.
_FIRST_PARTY = frozenset({"gancore", "gancore-torch", "gancore-tensorflow", "gancore-jax"})

#: Environment variable that turns third-party plugin loading off when set to 1/true/yes.
DISABLE_ENV = "GANCORE_NO_PLUGINS"
#: Environment variable with a comma-separated block list: `name`, `group:name` or `dist=NAME`.
BLOCK_ENV = "GANCORE_BLOCK_PLUGINS"


class PluginWarning(UserWarning):
    """A plugin was skipped or shadowed while listing; gancore goes on without it."""


@attrs.frozen
class PluginInfo:
    """What phase one knows of a plugin, without importing it."""

    group: str
    name: str
    value: str
    distribution: str
    version: str
    builtin: bool = False


@attrs.frozen
class _Entry:
    info: PluginInfo
    load: Callable[[], Any]
    validate: Callable[[Any], bool] | None = None


_BUILTINS: dict[str, dict[str, _Entry]] = {group: {} for group in GROUPS}
_VALIDATORS: dict[str, Callable[[Any], bool]] = {}


def _check_group(group: str) -> str:
    if group not in GROUPS:
        allowed = ", ".join(repr(g) for g in GROUPS)
        raise PluginError(f"group must be one of {allowed}; received {group!r}")
    return group


def register_builtin(group: str, name: str, obj_or_loader: Any, *, lazy: bool = False) -> None:
    """Register one of gancore's own plugins in code (no entry point needed).

    With ``lazy=True`` the object is a zero-argument callable that imports and returns the
    plugin, so registering costs no import.
    """
    _check_group(group)
    info = PluginInfo(group, name, f"<builtin {name}>", "gancore", _own_version(), builtin=True)
    load = obj_or_loader if lazy else (lambda: obj_or_loader)
    _BUILTINS[group][name] = _Entry(info, load)
    _discover.cache_clear()


def set_validator(group: str, validate: Callable[[Any], bool], kind: str) -> None:
    """Set the check that a loaded plugin of `group` is the right kind of object."""
    _check_group(group)
    _VALIDATORS[group] = validate
    _KINDS[group] = kind


_KINDS: dict[str, str] = {}


def _own_version() -> str:
    import importlib.metadata as md

    try:
        return md.version("gancore")
    except md.PackageNotFoundError:
        return "0+unknown"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _blocked(info: PluginInfo) -> bool:
    items = {item.strip() for item in os.environ.get(BLOCK_ENV, "").split(",") if item.strip()}
    return bool(
        {info.name, f"{info.group}:{info.name}", f"dist={info.distribution}"} & items
    )


def _entry_points(group: str) -> Iterable[md.EntryPoint]:
    # Imported here: importlib.metadata is a third of the cost of `import gancore`.
    import importlib.metadata as md

    return md.entry_points(group=GROUPS[group])


def _info_of(group: str, ep: md.EntryPoint) -> PluginInfo:
    dist = getattr(ep, "dist", None)
    name = dist.metadata["Name"] if dist is not None else "<unknown distribution>"
    version = dist.version if dist is not None else "?"
    return PluginInfo(group, ep.name, ep.value, name, version)


@functools.cache
def _discover(group: str) -> dict[str, _Entry]:
    """Phase one: every usable plugin of the group by name, builtins first; never imports."""
    found: dict[str, _Entry] = dict(_BUILTINS[group])
    disabled = _env_flag(DISABLE_ENV)
    # Of two entry points with one name, gancore's own distributions win, then the first value.
    entries = sorted(
        ((_info_of(group, ep), ep) for ep in _entry_points(group)),
        key=lambda pair: (pair[0].name, pair[0].distribution.lower() not in _FIRST_PARTY,
                          pair[0].value),
    )
    for info, ep in entries:
        if _blocked(info):
            continue
        if disabled and info.distribution.lower() not in _FIRST_PARTY:
            continue
        if info.name in found:
            winner = found[info.name].info
            warnings.warn(
                f"{group} plugin {info.name!r} is registered twice: by "
                f"{winner.distribution} ({winner.value}) and by {info.distribution} "
                f"({info.value}); using the one from {winner.distribution}",
                PluginWarning,
                stacklevel=3,
            )
            continue
        found[info.name] = _Entry(info, ep.load)
    return dict(sorted(found.items()))


def list_plugins(group: str) -> list[PluginInfo]:
    """Every plugin of a group, sorted by name, from metadata only (imports nothing)."""
    return [entry.info for entry in _discover(_check_group(group)).values()]


def plugin_names(group: str) -> list[str]:
    """The sorted names of a group's plugins (imports nothing)."""
    return [info.name for info in list_plugins(group)]


def install_hint(group: str, name: str) -> str | None:
    """The command that installs a plugin gancore knows by name, or None. The extra is
    quoted: zsh reads unquoted brackets as a file pattern, and every shell takes quotes."""
    extra = _INSTALL_EXTRAS.get((group, name))
    return None if extra is None else f'pip install "gancore[{extra}]"'


def _not_found(group: str, name: str) -> PluginNotFoundError:
    installed = ", ".join(plugin_names(group)) or "none"
    singular = _SINGULAR[group]
    hint = install_hint(group, name)
    how = f": {hint}" if hint else ""
    return PluginNotFoundError(
        f"{singular} {name!r} is not installed{how} (installed {group}: {installed})"
    )


def origin(group: str, name: str) -> str:
    """Where a plugin comes from, for messages: its entry point and distribution (or
    "built into gancore"); imports nothing."""
    entry = _discover(_check_group(group)).get(name)
    if entry is None:
        return "not installed"
    info = entry.info
    if info.builtin:
        return "built into gancore"
    return f"entry point {info.name} = {info.value} of distribution {info.distribution}"


@functools.cache
def load_plugin(group: str, name: str) -> Any:
    """Phase two: import and return the plugin object, checked to be of the right kind.

    Raises PluginNotFoundError for an unknown name and PluginLoadError, chained to the
    original exception, when the plugin fails to import or is the wrong kind of object.
    A plugin that calls ``sys.exit`` or raises `KeyboardInterrupt` while it is imported is
    contained the same way: a broken plugin must not take gancore down. (A real Ctrl-C
    during that import is reported as such a failure; the next one stops gancore.)
    """
    entries = _discover(_check_group(group))
    if name not in entries:
        raise _not_found(group, name)
    entry = entries[name]
    where = origin(group, name)
    try:
        obj = entry.load()
    except (Exception, SystemExit, KeyboardInterrupt) as e:
        raise PluginLoadError(
            f"{_SINGULAR[group]} {name!r} failed to load ({where}): {type(e).__name__}: {e}"
        ) from e
    validate = _VALIDATORS.get(group)
    try:
        valid = validate is None or bool(validate(obj))
    except Exception:  # an object whose attributes raise is not a plugin of any kind
        valid = False
    if not valid:
        raise PluginLoadError(
            f"{_SINGULAR[group]} {name!r} ({where}) is not a valid {_KINDS[group]}; "
            f"received {type(obj).__name__}"
        )
    return obj


def try_load_all(group: str) -> dict[str, Any]:
    """Load every plugin of a group; a broken one is skipped with a PluginWarning."""
    loaded: dict[str, Any] = {}
    for name in plugin_names(group):
        try:
            loaded[name] = load_plugin(group, name)
        except PluginError as e:
            warnings.warn(str(e), PluginWarning, stacklevel=2)
    return loaded


def refresh() -> None:
    """Forget what discovery and loading cached (after installing or removing plugins)."""
    _discover.cache_clear()
    load_plugin.cache_clear()
