"""Config keys that a built-in still accepts under an earlier name of ours."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from routilux.exceptions import DefinitionError

__all__ = ["rename_aliases"]


def rename_aliases(
    owner: str, config: Mapping[str, Any], aliases: Mapping[str, str]
) -> dict[str, Any]:
    """The keys of a ``set_config`` call, each alias renamed to the key it stands for.

    The built-ins show the published key names; an alias is a name of
    ours for the same setting, accepted without a warning. The routine
    stores only the published key, so its config, and a flow document,
    name each setting once.

    Args:
        owner: The routine's class name, for messages.
        config: The keys given to ``set_config``.
        aliases: Alias -> published key.

    Returns:
        The config with published keys, in the order given.

    Raises:
        DefinitionError: An alias and its key are both given, with different values.
    """
    renamed: dict[str, Any] = {}
    for key, value in config.items():
        target = aliases.get(key, key)
        if target in renamed and renamed[target] is not value and renamed[target] != value:
            raise DefinitionError(
                f"{owner} got both {target!r} and its other name "
                f"{next(a for a, t in aliases.items() if t == target)!r}, with different "
                f"values; give {target!r} only."
            )
        renamed[target] = value
    return renamed
