"""Registries that areas fill at start-up live on the app, not in module globals.

Content kinds, queue sections, searchables, export sections, deletion handlers,
transparency sections, navigation, moderator badges and demo loaders are kept in
`app.extensions["forum.registries"][name]`. Two apps in one process (tests, a worker
next to a web app) never share or duplicate them.

The module-level names (`moderation.kinds.KINDS`, `forum.search.SEARCHABLES`,
`forum.accounts.services.export_sections`...) stay: they are proxies that read and
write the registry of the app being initialised (inside `create_app`) or else of
`current_app`. So `register_kind(kind)` in an area's `init_app(app)` fills that app's
registry; every `register_*` function also takes `app=` to name the app explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping, MutableSequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask import Flask, current_app, has_app_context

EXTENSION_KEY = "forum.registries"
_initialising: ContextVar[Flask | None] = ContextVar("forum_app_being_initialised", default=None)


@contextmanager
def initialising(app: Flask):
    """`create_app` runs every area's `init_app` inside this block."""
    token = _initialising.set(app)
    try:
        yield app
    finally:
        _initialising.reset(token)


def resolve_app(app: Flask | None = None) -> Flask:
    if app is not None:
        return app
    being_built = _initialising.get()
    if being_built is not None:
        return being_built
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    raise RuntimeError(
        "App registries need an app: call register_* from an area's init_app(app), "
        "pass app=..., or use an app context."
    )


def app_registry(name: str, factory: Callable[[], Any], app: Flask | None = None) -> Any:
    """The registry `name` of this app (made by `factory` on first use)."""
    registries = resolve_app(app).extensions.setdefault(EXTENSION_KEY, {})
    if name not in registries:
        registries[name] = factory()
    return registries[name]


class AppDict(MutableMapping):
    """A dict that lives on the current app (see the module docstring)."""

    def __init__(self, name: str, factory: Callable[[], dict] = dict):
        self._name, self._factory = name, factory

    def for_app(self, app: Flask | None = None) -> dict:
        return app_registry(self._name, self._factory, app)

    def __getitem__(self, key):
        return self.for_app()[key]

    def __setitem__(self, key, value):
        self.for_app()[key] = value

    def __delitem__(self, key):
        del self.for_app()[key]

    def __iter__(self) -> Iterator:
        return iter(self.for_app())

    def __len__(self) -> int:
        return len(self.for_app())

    def __repr__(self) -> str:
        return f"<AppDict {self._name}>"


class AppList(MutableSequence):
    """A list that lives on the current app (see the module docstring)."""

    def __init__(self, name: str, factory: Callable[[], list] = list):
        self._name, self._factory = name, factory

    def for_app(self, app: Flask | None = None) -> list:
        return app_registry(self._name, self._factory, app)

    def __getitem__(self, index):
        return self.for_app()[index]

    def __setitem__(self, index, value):
        self.for_app()[index] = value

    def __delitem__(self, index):
        del self.for_app()[index]

    def __len__(self) -> int:
        return len(self.for_app())

    def insert(self, index, value) -> None:
        self.for_app().insert(index, value)

    def __iter__(self) -> Iterator:
        return iter(list(self.for_app()))

    def __contains__(self, value) -> bool:
        return value in self.for_app()

    def __repr__(self) -> str:
        return f"<AppList {self._name}>"


def add_once(registry: AppList, value, app: Flask | None = None) -> None:
    """Append unless already there (an area's init_app may run twice for one app)."""
    target = registry.for_app(app)
    if value not in target:
        target.append(value)
