"""cnnbench reports: tables, plots and a single-file HTML report from stored results.

Everything is derived from the results store alone (``docs/results-schema.md``)::

    from reports import build_report
    files = build_report(["results/quick"], "report/quick")
    print(files.html)

or ``cnnbench report results/quick --out report/quick``. Modules, in the order the data
flows: ``loading`` (records, their host classes and a flat runs table), ``hosts`` (the
host classes named for the page), ``cells`` (what each cell expects),
``statistics`` (over seeds, each engine paired with the baseline, the verdicts' intervals,
gaps), ``tables`` (display tables and the seed documents' table forms), ``summary``
(sentences), ``plots`` (seaborn figures),
``formatting`` and ``html_page`` (Markdown, CSV, HTML), ``build`` (writes the folder),
``command`` (the CLI). See ``docs/reports.md``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_report", "load_results"]


def __getattr__(name: str) -> Any:
    # Lazy: ``cnnbench --help`` imports reports.command, which must not pull in
    # matplotlib and seaborn.
    if name == "build_report":
        from reports.build import build_report

        return build_report
    if name == "load_results":
        from reports.loading import load_results

        return load_results
    raise AttributeError(f"module 'reports' has no attribute {name!r}")
