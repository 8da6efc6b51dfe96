"""What a report expects to find: the cells, their engines and seeds, their order and labels.

A *cell* is one matrix cell (``experiment/dataset/architecture``, plus the device when it
is not the CPU). Results alone say what was expected: every record carries the engines
of its cell (``engine_order``), and the seeds of a cell are those any of its records used.
A cell x engine x seed without a record is a gap.

Engines are canonical engine specs (``scratch``, ``keras:tensorflow``, ``keras:jax``...,
see :mod:`suite.engines.spec`), any number of them per cell. One of them is the *baseline*
that every other engine of the cell is compared with: ``--baseline`` when given, else
``scratch`` when the results hold it, else the first engine in :func:`engine_rank` order.
A cell that lacks the report's baseline (a GPU cell, say, runs ``scratch:gpu``) compares
against its own first engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reports.loading import LoadedResults
from suite.engines.spec import DEFAULT_BASELINE, canonical_engine_spec, known_engine_specs

#: engines in the order the tables list them (scratch, scratch:gpu, keras:tensorflow,
#: keras:jax, keras:torch); others follow by name
ENGINE_ORDER = tuple(known_engine_specs())


def engine_rank(engine: str) -> tuple[int, str]:
    """Sort key: the known engine specs in :data:`ENGINE_ORDER`, then any other by name.

    Parameters
    ----------
    engine : str
        An engine spec.

    Returns
    -------
    tuple of (int, str)
    """
    return (ENGINE_ORDER.index(engine) if engine in ENGINE_ORDER else len(ENGINE_ORDER), engine)


class BaselineError(ValueError):
    """A ``--baseline`` that names no engine of the results; the message lists them."""


def resolve_baseline(requested: str | None, engines: Sequence[str]) -> str | None:
    """The engine the report compares every other engine with.

    Parameters
    ----------
    requested : str or None
        An engine spec (``--baseline``); a bare family (``keras``, ``scratch``) means the
        results' only engine of that family when they hold one, else what
        :func:`suite.engines.spec.canonical_engine_spec` makes of it.
    engines : sequence of str
        The engines in the results (canonical specs).

    Returns
    -------
    str or None
        ``requested`` when given; else :data:`suite.engines.spec.DEFAULT_BASELINE`
        (``scratch``) when present, else the first engine in :func:`engine_rank` order;
        None when there is no engine at all.

    Raises
    ------
    BaselineError
        ``requested`` names no engine of the results.
    """
    ordered = sorted(set(engines), key=engine_rank)
    if requested is None:
        if DEFAULT_BASELINE in ordered:
            return DEFAULT_BASELINE
        return ordered[0] if ordered else None
    text = requested.strip()
    if text in ordered:
        return text
    family = text.partition(":")[0].lower()
    if ":" not in text:
        same_family = [engine for engine in ordered if engine.partition(":")[0] == family]
        if len(same_family) == 1:
            return same_family[0]
    try:
        spec = canonical_engine_spec(text)
    except ValueError:
        spec = text
    if spec in ordered:
        return spec
    raise BaselineError(
        f"baseline {requested!r} names no engine of these results; their engines are "
        f"{', '.join(ordered) or 'none'} (pass one of them to --baseline)"
    )


def architecture_rank(architecture: str) -> tuple[int, str]:
    """Sort key following the catalog's (SPEC's) order; unknown names after, by name."""
    from suite.catalog import architecture_names

    names = architecture_names()
    position = names.index(architecture) if architecture in names else len(names)
    return (position, architecture)


@dataclass(frozen=True)
class CellInfo:
    """One cell of the results and what it should hold.

    Attributes
    ----------
    cell : str
        The cell's name (see :func:`reports.loading.cell_name`).
    experiment, dataset, architecture, device : str
        Its identity.
    model : str
        The architecture, with the experiment when two cells would share the data set and
        architecture, and the device when it is not the CPU.
    label : str
        ``dataset / model``.
    engines : tuple of str
        The engines its records say it runs, in :func:`engine_rank` order.
    seeds : tuple of int
        Every seed any of its records used, ascending.
    baseline : str
        The engine the cell's other engines are compared with (see
        :func:`resolve_baseline`); empty when the cell has no engine.
    """

    cell: str
    experiment: str
    dataset: str
    architecture: str
    device: str
    model: str
    label: str
    engines: tuple[str, ...]
    seeds: tuple[int, ...]
    baseline: str = ""

    @property
    def others(self) -> tuple[str, ...]:
        """The cell's engines other than its baseline, in :func:`engine_rank` order."""
        return tuple(engine for engine in self.engines if engine != self.baseline)


def _engines_of(records: list[Mapping[str, Any]]) -> tuple[str, ...]:
    engines: set[str] = set()
    for record in records:
        engines.add(str(record["engine"]))
        order = record.get("engine_order")
        if isinstance(order, list):
            engines.update(str(engine) for engine in order if isinstance(engine, str))
    return tuple(sorted(engines, key=engine_rank))


def describe_cells(loaded: LoadedResults, baseline: str | None = None) -> list[CellInfo]:
    """The cells found in the results, sorted by data set, catalog order and experiment.

    Parameters
    ----------
    loaded : LoadedResults
        The records read.
    baseline : str, optional
        The report's baseline engine (already resolved, see :func:`resolve_baseline`);
        when omitted, the default rule picks it. A cell without it compares against its
        own first engine.

    Returns
    -------
    list of CellInfo
        One per cell.
    """
    by_cell: dict[str, list[dict[str, Any]]] = {}
    for record in loaded.records:
        by_cell.setdefault(record["_cell"], []).append(record)
    pairs: dict[tuple[str, str, str], set[str]] = {}
    for cell, records in by_cell.items():
        first = records[0]
        identity = (str(first["dataset"]), str(first["architecture"]), first.get("device") or "cpu")
        pairs.setdefault(identity, set()).add(cell)
    found = {str(record["engine"]) for record in loaded.records}
    for records in by_cell.values():
        found.update(_engines_of(records))
    report_baseline = resolve_baseline(None, sorted(found)) if baseline is None else baseline
    cells = []
    for cell, records in by_cell.items():
        first = records[0]
        dataset, architecture = str(first["dataset"]), str(first["architecture"])
        device = first.get("device") or "cpu"
        experiment = first.get("experiment") or "-"
        model = architecture
        if len(pairs[(dataset, architecture, device)]) > 1:
            model = f"{architecture} [{experiment}]"
        if device != "cpu":
            model = f"{model} ({device})"
        engines = _engines_of(records)
        cells.append(
            CellInfo(
                cell=cell,
                experiment=experiment,
                dataset=dataset,
                architecture=architecture,
                device=device,
                model=model,
                label=f"{dataset} / {model}",
                engines=engines,
                seeds=tuple(sorted({int(record["seed"]) for record in records})),
                baseline=report_baseline
                if report_baseline in engines
                else (engines[0] if engines else ""),
            )
        )
    cells.sort(
        key=lambda info: (info.dataset, architecture_rank(info.architecture), info.experiment)
    )
    return cells


def all_engines(cells: Sequence[CellInfo]) -> list[str]:
    """Every engine any cell runs, in :func:`engine_rank` order."""
    return sorted({engine for info in cells for engine in info.engines}, key=engine_rank)
