"""Name lookup shared by the activation, loss, initialisation and optimizer registries."""

from collections.abc import Collection, Mapping


def normalize_name(name: str) -> str:
    """Lower-case a name and turn hyphens and spaces into underscores.

    Args:
        name: A user-facing name such as ``"Leaky-ReLU"``.

    Returns:
        The normalised key, for example ``"leaky_relu"``.
    """
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def describe_choices(canonical: Collection[str], aliases: Mapping[str, str]) -> str:
    """Format the valid names in sorted order, each followed by its aliases.

    Args:
        canonical: The canonical names.
        aliases: Map from alias to canonical name.

    Returns:
        A string such as ``"adam, nesterov (alias nag), sgd"``.
    """
    parts = []
    for name in sorted(canonical):
        own_aliases = sorted(
            alias for alias, target in aliases.items() if target == name
        )
        if not own_aliases:
            parts.append(name)
        elif len(own_aliases) == 1:
            parts.append(f"{name} (alias {own_aliases[0]})")
        else:
            parts.append(f"{name} (aliases {', '.join(own_aliases)})")
    return ", ".join(parts)


def resolve_name(
    kind: str,
    plural: str,
    name: object,
    canonical: Collection[str],
    aliases: Mapping[str, str],
) -> str:
    """Map a case-insensitive name or alias to its canonical name.

    Args:
        kind: What the name selects, for the error message (``"optimizer"``).
        plural: The plural of ``kind`` (``"optimizers"``).
        name: The name to look up.
        canonical: The canonical names.
        aliases: Map from normalised alias to canonical name.

    Returns:
        The canonical name.

    Raises:
        ValueError: If ``name`` is not a string or matches no name or alias.
    """
    if isinstance(name, str):
        key = normalize_name(name)
        if key in canonical:
            return key
        if key in aliases:
            return aliases[key]
    choices = describe_choices(canonical, aliases)
    raise ValueError(f"Unknown {kind} {name!r}. Valid {plural}: {choices}.")
