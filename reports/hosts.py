"""The host classes of a report: which machines its times come from, named for the page.

Every record belongs to one host class (:func:`reports.loading.host_class_of`): the
runner's ``host.host_class`` digest, or a stable ``unrecorded (...)`` class for records
written before hosts were stored. A time is comparable only with times of the same class,
so the reports form every time ratio within one class, and tables that put times of
different cells side by side group them by class. This module describes the classes
(host names, CPU model, cores) and writes the sentence the page shows when its times come
from more than one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from reports.formatting import GAP, Table
from reports.loading import UNRECORDED_HOST, host_class_of

#: the page's rule, quoted in the note and the captions
WITHIN_CLASS_RULE = "ratios are formed within a host class only"


@dataclass(frozen=True)
class HostClass:
    """One host class of the records and the machines it holds.

    Attributes
    ----------
    host_class : str
        The class (digest, or ``unrecorded (...)``).
    hostnames : tuple of str
        The host names its records name, sorted.
    cpus : tuple of str
        The CPU models its records name, sorted.
    cores : tuple of str
        The core counts its records name, sorted.
    runs : int
        Its records.
    successful : int
        Its records with status ``success`` (the ones whose times enter a figure).
    """

    host_class: str
    hostnames: tuple[str, ...]
    cpus: tuple[str, ...]
    cores: tuple[str, ...]
    runs: int
    successful: int

    def describe(self) -> str:
        """``CLASS (host a, b; CPU; N cores)``: the class and what it stands for."""
        hosts = ", ".join(self.hostnames) or "unknown"
        cpu = ", ".join(self.cpus) or "unknown CPU"
        cores = ", ".join(self.cores) or "?"
        noun = "host" if len(self.hostnames) <= 1 else "hosts"
        return f"{self.host_class} ({noun} {hosts}; {cpu}; {cores} cores)"


def _machine_fields(record: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """Host name, CPU model and cores: from the host block, else the environment block."""
    values = []
    for key in ("hostname", "cpu", "cores"):
        value = None
        for block_name in ("host", "environment"):
            block = record.get(block_name)
            if isinstance(block, Mapping) and block.get(key) not in (None, ""):
                value = block[key]
                break
        values.append(value)
    return values[0], values[1], values[2]


def describe_host_classes(records: Iterable[Mapping[str, Any]]) -> list[HostClass]:
    """Every host class of the records, sorted by class.

    Parameters
    ----------
    records : iterable of mapping
        Results records (``LoadedResults.records``, or raw ones).

    Returns
    -------
    list of HostClass
        One per class, with the host names, CPU models and core counts its records name.
    """
    found: dict[str, dict[str, Any]] = {}
    for record in records:
        name = record.get("_host_class") or host_class_of(record)
        entry = found.setdefault(
            name, {"hosts": set(), "cpus": set(), "cores": set(), "runs": 0, "ok": 0}
        )
        hostname, cpu, cores = _machine_fields(record)
        for key, value in (("hosts", hostname), ("cpus", cpu), ("cores", cores)):
            if value is not None:
                entry[key].add(str(value))
        entry["runs"] += 1
        entry["ok"] += int(record.get("status") == "success")
    return [
        HostClass(
            host_class=name,
            hostnames=tuple(sorted(entry["hosts"])),
            cpus=tuple(sorted(entry["cpus"])),
            cores=tuple(sorted(entry["cores"], key=lambda text: (len(text), text))),
            runs=entry["runs"],
            successful=entry["ok"],
        )
        for name, entry in sorted(found.items())
    ]


def timed_host_classes(classes: Sequence[HostClass]) -> list[HostClass]:
    """The classes with at least one successful run: those the report's times come from."""
    return [host for host in classes if host.successful]


def host_class_note(classes: Sequence[HostClass]) -> str:
    """The page's sentence on host classes; empty when the times come from one class.

    Parameters
    ----------
    classes : sequence of HostClass
        :func:`describe_host_classes` of the records.

    Returns
    -------
    str
        ``"Times from 2 host classes; ratios are formed within a host class only: A (host
        n1; CPU; 64 cores); B (...)."``, naming every class with a successful run.
    """
    timed = timed_host_classes(classes)
    if len(timed) <= 1:
        return ""
    named = "; ".join(host.describe() for host in timed)
    return f"Times from {len(timed)} host classes; {WITHIN_CLASS_RULE}: {named}."


def host_classes_table(classes: Sequence[HostClass]) -> Table:
    """The Environment section's table of host classes and the machines in each."""
    frame = pd.DataFrame(
        {
            "Host class": [host.host_class for host in classes],
            "Hosts": [", ".join(host.hostnames) or GAP for host in classes],
            "CPU": [", ".join(host.cpus) or GAP for host in classes],
            "Cores": [", ".join(host.cores) or GAP for host in classes],
            "Runs": [str(host.runs) for host in classes],
            "Successful": [str(host.successful) for host in classes],
        },
        columns=["Host class", "Hosts", "CPU", "Cores", "Runs", "Successful"],
    )
    return Table(
        name="host_classes",
        title="Host classes",
        caption="Runs share a host class when they ran on the same CPU model, cores and "
        "memory with the same BLAS build and numerical library versions (the runner's "
        "host.host_class); records from before host blocks get 'unrecorded (CPU, cores, "
        "digest)' from their environment block. Times are compared, and ratios formed, "
        "only within a host class.",
        data=frame,
        display=frame,
    )


def short_host_label(host_class: str) -> str:
    """The host class as a figure labels it: the digest, or ``unrecorded DIGEST``.

    The full ``unrecorded (CPU, cores, digest)`` of an old record can run to 70
    characters, too long for a tick label; the digest alone still identifies the class in
    the Host classes table.
    """
    prefix = f"{UNRECORDED_HOST} ("
    if host_class.startswith(prefix) and host_class.endswith(")"):
        return f"{UNRECORDED_HOST} {host_class[:-1].rpartition(', ')[2]}"
    return host_class


def show_host_column(frame: pd.DataFrame) -> bool:
    """Whether a display table needs a Host class column: its rows span several classes."""
    if frame.empty or "host_class" not in frame.columns:
        return False
    return frame["host_class"].replace("", pd.NA).dropna().nunique() > 1


def host_sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows grouped by host class (a stable sort: the order within a class is kept)."""
    if frame.empty or "host_class" not in frame.columns:
        return frame
    return frame.sort_values("host_class", kind="stable")
