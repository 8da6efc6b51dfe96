"""The engine registry: the one place where an engine family is named.

Each entry says which class implements the family (as ``"module:Class"``, imported only
inside that engine's worker process, so the driver and other workers never load it), the
options its spec accepts (the first is the default) and, per option, the import that
option needs and the pip extra that provides it. Registering a new engine is one module
under ``suite/engines/`` and one entry here (docs/engines.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EngineEntry:
    """One registered engine family.

    Attributes
    ----------
    implementation : str
        ``"package.module:ClassName"`` of the :class:`suite.engines.base.Engine` subclass.
    options : tuple of str
        What may follow the colon of a spec (device, backend...); the first is the default.
    requires : dict
        Option -> the importable module it needs (checked before a worker starts).
    extras : dict
        Option -> the pip extra of cnnbench that installs it.
    """

    implementation: str
    options: tuple[str, ...]
    requires: dict[str, str] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)


#: engine family -> entry
ENGINES: dict[str, EngineEntry] = {
    "scratch": EngineEntry(
        "suite.engines.scratch:ScratchEngine",
        options=("cpu", "gpu"),
        requires={"gpu": "cupy"},
        extras={"gpu": "gpu"},
    ),
    "keras": EngineEntry(
        "suite.engines.keras:KerasEngine",
        options=("tensorflow", "jax", "torch"),
        requires={"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"},
        extras={"tensorflow": "", "jax": "jax", "torch": "torch"},
    ),
}


def family_options() -> dict[str, tuple[str, ...]]:
    """Family -> the options its specs accept.

    Returns
    -------
    dict
    """
    return {family: entry.options for family, entry in ENGINES.items()}


__all__ = ["ENGINES", "EngineEntry", "family_options"]
