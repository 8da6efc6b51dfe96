"""Engine spec strings: ``scratch``, ``scratch:gpu``, ``keras:tensorflow``, ``keras:jax``...

An engine is named by a *spec*: a family (``scratch`` or ``keras``) and an option after a
colon (the device for scratch, the Keras backend for Keras). Records store the canonical
form, so two backends of Keras never collapse into one "keras" column. This module is
plain string handling; it imports no engine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from suite.engines.registry import family_options

#: engine family -> the options its spec may carry (the first is the default)
FAMILY_OPTIONS: dict[str, tuple[str, ...]] = family_options()

#: the engine reports use as the baseline when the store has it
DEFAULT_BASELINE = "scratch"


class EngineSpecError(ValueError):
    """An engine spec that names no known engine; the message lists the known ones."""


@dataclass(frozen=True)
class EngineSpec:
    """A parsed engine spec.

    Attributes
    ----------
    family : str
        ``"scratch"`` or ``"keras"`` (or a registered plug-in's name).
    option : str
        Device for scratch (``"cpu"``/``"gpu"``), backend for Keras.
    """

    family: str
    option: str

    @property
    def name(self) -> str:
        """The canonical spec string (``scratch`` for scratch on the CPU)."""
        if self.family == "scratch" and self.option == "cpu":
            return "scratch"
        return f"{self.family}:{self.option}"

    def __str__(self) -> str:
        return self.name


def default_keras_backend() -> str:
    """``$KERAS_BACKEND``, else ``tensorflow``: what a bare ``keras`` spec means.

    Returns
    -------
    str
    """
    return os.environ.get("KERAS_BACKEND") or "tensorflow"


def parse_engine_spec(
    text: str,
    *,
    keras_backend: str | None = None,
    device: str | None = None,
    families: Mapping[str, tuple[str, ...]] | None = None,
) -> EngineSpec:
    """Parse an engine spec string.

    Parameters
    ----------
    text : str
        ``scratch``, ``scratch:gpu``, ``keras``, ``keras:tensorflow``, ``keras:jax``,
        ``keras:torch``.
    keras_backend : str, optional
        What a bare ``keras`` means (``--keras-backend``); ``$KERAS_BACKEND`` or tensorflow
        when omitted.
    device : str, optional
        What a bare ``scratch`` means (``--device``); ``cpu`` when omitted.
    families : mapping, optional
        Family -> allowed options; :data:`FAMILY_OPTIONS` when omitted.

    Returns
    -------
    EngineSpec

    Raises
    ------
    EngineSpecError
        For an unknown family or option; the message lists what is known.
    """
    families = family_options() if families is None else families
    raw = str(text).strip()
    family, _, option = raw.partition(":")
    family, option = family.strip().lower(), option.strip().lower()
    if family not in families:
        raise EngineSpecError(
            f"unknown engine {raw!r}; known engines: {', '.join(known_engine_specs(families))} "
            "(and 'keras', which means the KERAS_BACKEND default)"
        )
    if not option:
        if family == "keras":
            option = keras_backend or default_keras_backend()
        elif family == "scratch":
            option = device or "cpu"
        else:
            option = families[family][0]
    if option not in families[family]:
        raise EngineSpecError(
            f"engine {raw!r}: {family} has no option {option!r}; expected one of "
            f"{', '.join(f'{family}:{choice}' for choice in families[family])}"
        )
    return EngineSpec(family, option)


def canonical_engine_spec(text: str, **kwargs: Any) -> str:
    """The canonical spec string of ``text`` (see :func:`parse_engine_spec`).

    Parameters
    ----------
    text : str
    **kwargs
        ``keras_backend``, ``device``, ``families`` as for :func:`parse_engine_spec`.

    Returns
    -------
    str
    """
    return parse_engine_spec(text, **kwargs).name


def known_engine_specs(families: Mapping[str, tuple[str, ...]] | None = None) -> list[str]:
    """Every canonical spec the families allow, e.g. ``['scratch', 'scratch:gpu', ...]``.

    Returns
    -------
    list of str
    """
    families = family_options() if families is None else families
    return [
        EngineSpec(family, option).name
        for family, options in families.items()
        for option in options
    ]


def record_engine_spec(record: Mapping[str, Any]) -> str:
    """The canonical engine spec of a stored record, old or new.

    Records written before engine specs existed say ``"keras"`` with the backend in
    ``keras_backend`` (or only in the environment block), and ``"scratch"`` with the device
    in ``device``; they map to ``keras:<backend>`` and ``scratch``/``scratch:gpu``.

    Parameters
    ----------
    record : mapping
        One results record.

    Returns
    -------
    str
    """
    engine = str(record.get("engine", ""))
    if ":" in engine:
        return engine
    if engine == "keras":
        environment = record.get("environment") or {}
        backend = (
            record.get("keras_backend")
            or (environment.get("thread_settings") or {}).get("keras_backend")
            or environment.get("keras_backend")
            or "tensorflow"
        )
        return f"keras:{backend}"
    if engine == "scratch":
        return "scratch:gpu" if record.get("device") == "gpu" else "scratch"
    return engine


__all__ = [
    "DEFAULT_BASELINE",
    "FAMILY_OPTIONS",
    "EngineSpec",
    "EngineSpecError",
    "canonical_engine_spec",
    "default_keras_backend",
    "known_engine_specs",
    "parse_engine_spec",
    "record_engine_spec",
]
