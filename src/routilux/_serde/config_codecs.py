"""Config codecs: what a routine class keeps in its flow-document entry besides its config.

The value codec writes a routine's config as JSON values. A class whose
config holds values it cannot write (a :class:`ConditionalRouter`'s
conditions may be functions) registers a :class:`ConfigCodec` for itself
and its subclasses: when a flow is written, the codec takes those keys out
of the config and gives the entry fields that hold them instead; when a
flow is read, it gives them back to the config and names the events the
routine defines on its instance.

A built-in routine registers its codec when its module is imported. A
document names each routine's class by import path, so reading it imports
the class's module, which registers the codec before it is looked up: the
serializer never imports a built-in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from routilux._model.routine import Routine
from routilux._serde._router_doc import RoutesCodec

if TYPE_CHECKING:
    from routilux._serde._flow_spec import RoutineSpec

__all__ = ["ConfigCodec", "RoutesCodec", "config_codec", "register_config_codec"]

_lock = threading.Lock()
_codecs: dict[type[Routine], ConfigCodec] = {}


class ConfigCodec(Protocol):
    """How one routine class's entry holds what its config cannot.

    Invariant: ``to_config`` of what ``to_entry`` wrote gives back the
    config keys ``to_entry`` took out.
    """

    def to_entry(self, routine: Routine, config: dict[str, Any], where: str) -> dict[str, Any]:
        """Take out of ``config`` what the value codec cannot write; return the entry fields.

        Args:
            routine: The routine being written.
            config: A copy of its config, changed in place.
            where: The routine entry's place in the document, for errors.

        Raises:
            SerializationError: A value cannot be written (the message names its place).
        """
        ...

    def to_config(self, spec: RoutineSpec, functions: Callable[[str, str], Any]) -> dict[str, Any]:
        """The config keys the entry's own fields hold, ready for ``set_config``.

        Args:
            spec: The routine entry, as read.
            functions: Returns the resolved function for an import path and its place.
        """
        ...

    def instance_events(self, routine: Routine, spec: RoutineSpec) -> set[str]:
        """The events the configured routine defines on its instance, not in its class."""
        ...


def register_config_codec(cls: type[Routine], codec: ConfigCodec) -> None:
    """Make ``codec`` write and read the entries of ``cls`` and of its subclasses.

    Args:
        cls: A :class:`Routine` subclass.
        codec: Its codec; registering another replaces it.
    """
    with _lock:
        _codecs[cls] = codec


def config_codec(cls: type[Routine]) -> ConfigCodec | None:
    """The codec of ``cls``, or of its nearest registered base class; ``None`` if none."""
    with _lock:
        for base in cls.__mro__:
            codec = _codecs.get(base)
            if codec is not None:
                return codec
    return None
