"""The JSON-lines results store: whole lines, torn-line tolerance, stable run keys."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from suite import results


def make_record(index: int, **extra) -> dict:
    return {
        **results.new_record_fields(),
        "key": f"key-{index}",
        "status": "success",
        "seed": index,
        **extra,
    }


def test_round_trip_with_numpy_values_and_nan(tmp_path):
    store = results.ResultsStore(tmp_path / "out" / "results.jsonl")
    store.append(
        make_record(
            0,
            metrics={"accuracy": np.float32(0.5), "ar": [np.nan, 1.0]},
            confusion=np.eye(2, dtype=np.int64),
        )
    )
    read = store.read()
    assert read.problems == []
    (record,) = read.records
    assert record["metrics"] == {"accuracy": 0.5, "ar": [None, 1.0]}
    assert record["confusion"] == [[1, 0], [0, 1]]
    assert record["schema"] == results.SCHEMA_VERSION
    assert store.path.read_bytes().count(b"\n") == 1


def test_torn_last_line_is_skipped_and_reported_and_next_append_starts_a_new_line(tmp_path):
    store = results.ResultsStore(tmp_path / "results.jsonl")
    store.append(make_record(0))
    store.append(make_record(1))
    whole = store.path.read_bytes()
    line = results.record_to_line(make_record(2))
    store.path.write_bytes(whole + line[: len(line) // 2])  # a writer killed mid-line
    read = store.read()
    assert [record["seed"] for record in read.records] == [0, 1]
    (problem,) = read.problems
    assert problem.is_last_line and problem.line_number == 3
    assert "torn" in str(problem)

    store.append(make_record(3))
    read = store.read()
    assert [record["seed"] for record in read.records] == [0, 1, 3]
    assert len(read.problems) == 1 and not read.problems[0].is_last_line


def test_unknown_fields_are_kept_and_non_objects_reported(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"key": "a", "status": "success", "from_the_future": 1}\n\n[1, 2]\n')
    read = results.ResultsStore(path).read()
    assert read.records == [{"key": "a", "status": "success", "from_the_future": 1}]
    assert "expected an object" in read.problems[0].reason


def test_stored_keys_count_only_finished_statuses(tmp_path):
    store = results.ResultsStore(tmp_path / "results.jsonl")
    for index, status in enumerate(["success", "diverged", "failed", "skipped"]):
        store.append({"key": f"k{index}", "status": status})
    assert store.stored_keys() == {"k0", "k1"}
    assert store.stored_keys({"failed"}) == {"k2"}
    assert results.ResultsStore(tmp_path / "absent.jsonl").stored_keys() == set()


def test_unknown_status_is_refused(tmp_path):
    with pytest.raises(ValueError, match="expected one of"):
        results.ResultsStore(tmp_path / "r.jsonl").append({"status": "done"})


def test_run_key_is_stable_and_sensitive():
    configuration = {"dataset": "digits8x8", "hyperparameters": {"lr": 0.01, "epochs": 2}}
    reordered = {"hyperparameters": {"epochs": 2, "lr": 0.01}, "dataset": "digits8x8"}
    key = results.run_key(configuration, "abc", "keras", 0)
    assert key == results.run_key(reordered, "abc", "keras", 0)
    assert len(key) == 64
    variants = {
        results.run_key(configuration, "abd", "keras", 0),
        results.run_key(configuration, "abc", "scratch", 0),
        results.run_key(configuration, "abc", "keras", 1),
        results.run_key({**configuration, "dataset": "mnist"}, "abc", "keras", 0),
    }
    assert key not in variants and len(variants) == 4
    # the same key in a fresh interpreter (no dependence on hash randomisation)
    code = f"from suite import results;print(results.run_key({configuration!r}, 'abc', 'keras', 0))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == key


def test_concurrent_appends_from_two_processes_produce_whole_lines(tmp_path):
    path = tmp_path / "results.jsonl"
    script = textwrap.dedent(
        """
        import sys
        from suite import results
        store = results.ResultsStore(sys.argv[1])
        payload = sys.argv[2] * 50_000  # large lines make interleaving likely if unguarded
        for index in range(40):
            store.append({"key": f"{sys.argv[2]}{index}", "status": "success", "p": payload})
        """
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, str(path), name]) for name in "ab"]
    assert all(writer.wait(timeout=120) == 0 for writer in writers)
    read = results.ResultsStore(path).read()
    assert read.problems == []
    keys = sorted(record["key"] for record in read.records)
    assert keys == sorted(f"{name}{index}" for name in "ab" for index in range(40))
    for line in path.read_text().splitlines():
        record = json.loads(line)
        assert record["p"] == record["key"][0] * 50_000
