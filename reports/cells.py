"""What a report expects to find: the cells, their engines and seeds, their order and labels.

A *cell* is one matrix cell (``experiment/dataset/architecture``, plus the device when it
is not the CPU). Results alone say what was expected: every record carries the engines
of its cell (``engine_order``), and the seeds of a cell are those any of its records used.
A cell x engine x seed without a record is a gap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reports.loading import LoadedResults

#: engines in the order the tables list them; others follow alphabetically
ENGINE_ORDER = ("scratch", "keras")


def engine_rank(engine: str) -> tuple[int, str]:
    """Sort key placing scratch before keras, then any other engine by name."""
    return (ENGINE_ORDER.index(engine) if engine in ENGINE_ORDER else len(ENGINE_ORDER), engine)


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


def _engines_of(records: list[Mapping[str, Any]]) -> tuple[str, ...]:
    engines: set[str] = set()
    for record in records:
        engines.add(str(record["engine"]))
        order = record.get("engine_order")
        if isinstance(order, list):
            engines.update(str(engine) for engine in order if isinstance(engine, str))
    return tuple(sorted(engines, key=engine_rank))


def describe_cells(loaded: LoadedResults) -> list[CellInfo]:
    """The cells found in the results, sorted by data set, catalog order and experiment.

    Parameters
    ----------
    loaded : LoadedResults
        The records read.

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
        cells.append(
            CellInfo(
                cell=cell,
                experiment=experiment,
                dataset=dataset,
                architecture=architecture,
                device=device,
                model=model,
                label=f"{dataset} / {model}",
                engines=_engines_of(records),
                seeds=tuple(sorted({int(record["seed"]) for record in records})),
            )
        )
    cells.sort(
        key=lambda info: (info.dataset, architecture_rank(info.architecture), info.experiment)
    )
    return cells


def all_engines(cells: list[CellInfo]) -> list[str]:
    """Every engine any cell runs, in :func:`engine_rank` order."""
    return sorted({engine for info in cells for engine in info.engines}, key=engine_rank)
