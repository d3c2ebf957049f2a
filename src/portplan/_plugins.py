"""The one plugin registry: firewall targets and service identifiers, built in or added by
other packages through entry points.

Each kind of plugin has a registry (:class:`PluginRegistry`) that knows its built-ins by name
(``"module:attribute"``, imported only when used, so start-up stays fast) and reads the
entry-point group :data:`ENTRY_POINT_GROUPS` names for its kind.  A name registered twice (an
installed package that reuses a built-in's name, or two packages that pick the same one) is a
:class:`~portplan._errors.PluginError`, never a silent choice of one of them.

An apply back end is not a plugin of its own: it is a capability of a target
(``Target.applier``), so a third-party target can be applied like a built-in one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from portplan._errors import PluginError

__all__ = ["ENTRY_POINT_GROUPS", "Plugin", "PluginRegistry"]

#: entry-point group of each plugin kind: a package registers a target with
#: ``[project.entry-points."portplan.targets"] mytarget = "mypkg.module:MyTarget"``
ENTRY_POINT_GROUPS: Mapping[str, str] = {
    "target": "portplan.targets",
    "identifier": "portplan.identifiers",
}

#: ``origin`` of a built-in plugin
BUILT_IN = "built-in"

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Plugin:
    """A registered plugin: its name, where it is (``module:attribute``) and who provides it."""

    kind: str
    name: str
    value: str
    origin: str  #: ``built-in`` or the distribution that declares the entry point


class PluginRegistry(Generic[T]):
    """The plugins of one kind: built-ins plus the kind's entry-point group.

    ``accept`` checks a loaded object and returns it typed (or ``None`` if it is not a plugin of
    this kind); the registry turns a ``None`` into a :class:`PluginError` naming the culprit.
    """

    def __init__(
        self, kind: str, builtins: Mapping[str, str], accept: Callable[[object], T | None]
    ) -> None:
        self.kind = kind
        self.group = ENTRY_POINT_GROUPS[kind]
        self._builtins = dict(builtins)
        self._accept = accept
        self._loaded: dict[str, T] = {}
        self._plugins: dict[str, Plugin] | None = None

    def plugins(self) -> dict[str, Plugin]:
        """Every registered plugin by name; :class:`PluginError` on a name registered twice.

        Entry points are read once per registry (installed packages do not change while
        portplan runs).
        """
        if self._plugins is None:
            self._plugins = self._discover()
        return dict(self._plugins)

    def _discover(self) -> dict[str, Plugin]:
        found = {
            name: Plugin(kind=self.kind, name=name, value=value, origin=BUILT_IN)
            for name, value in self._builtins.items()
        }
        for entry in entry_points(group=self.group):
            origin = entry.dist.name if entry.dist is not None else "an unnamed distribution"
            plugin = Plugin(kind=self.kind, name=entry.name, value=entry.value, origin=origin)
            first = found.get(entry.name)
            if first is None:
                found[entry.name] = plugin
            elif (first.value, first.origin) != (plugin.value, plugin.origin):
                raise PluginError(
                    f"two {self.kind}s are registered as {entry.name!r}: {first.value} "
                    f"({first.origin}) and {plugin.value} ({plugin.origin}, entry-point group "
                    f"{self.group}); uninstall one of them or rename its entry point"
                )
        return found

    def names(self) -> tuple[str, ...]:
        """Names of every registered plugin, sorted."""
        return tuple(sorted(self.plugins()))

    def find(self, name: str) -> T | None:
        """The plugin registered as ``name``, loaded; ``None`` if there is none."""
        if name in self._loaded:
            return self._loaded[name]
        if self._plugins is None:
            self._plugins = self._discover()
        plugin = self._plugins.get(name)
        if plugin is None:
            return None
        module, _, attribute = plugin.value.partition(":")
        try:
            found: object = import_module(module)
            for part in attribute.split(".") if attribute else ():
                found = getattr(found, part)
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"{self.kind} {name!r} ({plugin.value}, from {plugin.origin}) cannot be "
                f"loaded: {exc}"
            ) from exc
        accepted = self._accept(found)
        if accepted is None:
            raise PluginError(
                f"{plugin.value} ({self.kind} {name!r}, from {plugin.origin}) is not a "
                f"portplan {self.kind}"
            )
        self._loaded[name] = accepted
        return accepted
