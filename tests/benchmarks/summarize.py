"""Turn a pytest-benchmark JSON file of ``test_ops.py`` into the Markdown table of
``docs/performance.md``: median time per op, GFLOP/s, and the ratio scratch/TensorFlow.

Usage: ``python tests/benchmarks/summarize.py .benchmarks/ops.json``
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def summarize(path: str) -> str:
    """Return the Markdown table for one benchmark JSON file."""
    with open(path) as handle:
        data = json.load(handle)
    groups: dict[str, dict[str, dict]] = defaultdict(dict)
    for bench in data["benchmarks"]:
        engine = (
            "scratch"
            if "scratch" in bench["name"]
            else ("tensorflow" if "tensorflow" in bench["name"] else "numpy")
        )
        groups[bench["group"]][engine if engine != "numpy" else bench["name"]] = bench
    gemm_rate = max(
        (b["extra_info"]["gflops_per_s"] for b in groups.get("numpy float32 GEMM", {}).values()),
        default=None,
    )
    lines = [
        "| op (batch 128, float32, fwd+bwd) | scratch ms | TF ms | scratch GFLOP/s | "
        "TF GFLOP/s | scratch / TF | scratch / NumPy GEMM rate |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for group in sorted(groups):
        entries = groups[group]
        if "scratch" not in entries or "tensorflow" not in entries:
            continue
        ours, theirs = entries["scratch"], entries["tensorflow"]
        t_ours, t_theirs = ours["stats"]["median"] * 1e3, theirs["stats"]["median"] * 1e3
        g_ours = ours["extra_info"].get("gflops_per_s")
        g_theirs = theirs["extra_info"].get("gflops_per_s")
        fmt = lambda g: f"{g:.1f}" if g else "-"  # noqa: E731
        share = f"{100 * g_ours / gemm_rate:.0f}%" if g_ours and gemm_rate else ""
        lines.append(
            f"| {group} | {t_ours:.2f} | {t_theirs:.2f} | {fmt(g_ours)} | "
            f"{fmt(g_theirs)} | {t_ours / t_theirs:.2f} | {share} |"
        )
    for group in sorted(g for g in groups if g.startswith("products alone")):
        for bench in groups[group].values():
            rate = bench["extra_info"]["gflops_per_s"]
            share = f"{100 * rate / gemm_rate:.0f}%" if gemm_rate else ""
            lines.append(
                f"| {group} (GEMMs only) | {bench['stats']['median'] * 1e3:.2f} | | "
                f"{rate:.1f} | | | {share} |"
            )
    for name, bench in sorted(groups.get("numpy float32 GEMM", {}).items()):
        lines.append(
            f"| {name} (reference) | {bench['stats']['median'] * 1e3:.2f} | | "
            f"{bench['extra_info']['gflops_per_s']:.1f} | | | |"
        )
    paired = sorted(g for g in groups if g.startswith("share of GEMM rate"))
    if paired:
        lines += [
            "",
            "| layer, paired rounds (layer and reference GEMMs back to back) | rounds | "
            "layer ms (median) | reference GFLOP/s (median) | share of the GEMM rate: "
            "median | quartiles | range |",
            "|---|---:|---:|---:|---:|---|---|",
        ]
    for group in paired:
        for bench in groups[group].values():
            info = bench["extra_info"]
            q1, q3 = info["share_quartiles"]
            low, high = info["share_range"]
            lines.append(
                f"| {group.removeprefix('share of GEMM rate ')} | {len(info['shares'])} | "
                f"{info['layer_ms_median']:.2f} | {info['reference_gflops_per_s_median']:.1f} | "
                f"{100 * info['share_median']:.1f}% | {100 * q1:.1f}-{100 * q3:.1f}% | "
                f"{100 * low:.1f}-{100 * high:.1f}% |"
            )
    machine = data.get("machine_info", {})
    lines.append("")
    lines.append(
        f"Machine: {machine.get('cpu', {}).get('brand_raw', '?')}, "
        f"{machine.get('cpu', {}).get('count', '?')} cores; "
        f"Python {machine.get('python_version', '?')}; {data.get('datetime', '')}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(sys.argv[1]))
