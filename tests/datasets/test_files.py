"""Finding, verifying and downloading files: search order, checksums, no partial files.

Downloads run against a local HTTP server on 127.0.0.1 through pooch's real HTTP
downloader; the autouse ``no_network`` fixture refuses anything else.
"""

from __future__ import annotations

import dataclasses
import socket

import pytest

from datasets import (
    ChecksumMismatchError,
    DataFileNotFoundError,
    DataLocator,
    DownloadError,
    load_dataset,
)
from datasets.files import default_cache_dir
from datasets.mnist import load_mnist
from datasets.sources import MNIST, DatasetSource, SourceFile


def _served_source(mnist_files, file_server, *prefixes: str) -> DatasetSource:
    """mnist_files' source, with each file served under every URL prefix in turn."""
    for source_file in mnist_files.source.files:
        data = mnist_files.path(source_file.filename).read_bytes()
        file_server.routes[f"/good/{source_file.filename}"] = data
        file_server.routes[f"/broken/{source_file.filename}"] = data
        file_server.broken.add(f"/broken/{source_file.filename}")
        file_server.routes[f"/other/{source_file.filename}"] = data[::-1]
    files = tuple(
        dataclasses.replace(
            f, urls=tuple(f"{file_server.url}/{prefix}/{f.filename}" for prefix in prefixes)
        )
        for f in mnist_files.source.files
    )
    return dataclasses.replace(mnist_files.source, files=files)


def _files_in(directory):
    return sorted(p.name for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def test_the_guard_refuses_the_network():
    with socket.socket() as sock, pytest.raises(OSError, match="network"):
        sock.connect(("192.0.2.1", 80))
    with pytest.raises(OSError, match="network"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    with pytest.raises(OSError, match="network"):
        socket.getaddrinfo("example.org", 80)


def test_download_into_an_empty_cache_then_reuse(mnist_files, file_server, tmp_path):
    source = _served_source(mnist_files, file_server, "good")
    cache = tmp_path / "cache"
    locator = DataLocator(cache_dir=cache)

    first = load_mnist(locator, source=source)

    assert _files_in(cache) == sorted(f.filename for f in MNIST.files)
    assert all(record.path.parent == cache / "mnist" for record in first.sources)
    assert len(file_server.requested) == 4
    second = load_mnist(locator, source=source)
    assert len(file_server.requested) == 4  # served from the cache
    assert (second.images == first.images).all()


def test_falls_back_to_the_next_url(mnist_files, file_server, tmp_path):
    source = _served_source(mnist_files, file_server, "missing", "other", "good")
    dataset = load_mnist(DataLocator(cache_dir=tmp_path / "cache"), source=source)
    assert len(dataset) == 80
    assert len(file_server.requested) == 12


def test_download_that_breaks_off_leaves_nothing(mnist_files, file_server, tmp_path):
    source = _served_source(mnist_files, file_server, "broken")
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as caught:
        load_mnist(DataLocator(cache_dir=cache), source=source)
    message = str(caught.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert f"{file_server.url}/broken/train-images-idx3-ubyte.gz: ChunkedEncodingError" in message
    assert "IncompleteRead" in message
    assert "Nothing was left" in message
    assert _files_in(cache) == []


def test_wrong_download_is_reported_with_both_checksums(mnist_files, file_server, tmp_path):
    source = _served_source(mnist_files, file_server, "other")
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as caught:
        load_mnist(DataLocator(cache_dir=cache), source=source)
    expected = source.files[0].md5
    assert f"expected {expected}" in str(caught.value)
    assert "md5 mismatch" in str(caught.value)
    assert _files_in(cache) == []


def test_interrupted_download_leaves_nothing(mnist_files, tmp_path):
    def interrupted(url, output_file, pooch):
        with open(output_file, "wb") as partial:
            partial.write(b"half a file")
        raise KeyboardInterrupt

    cache = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        load_mnist(DataLocator(cache_dir=cache, downloader=interrupted), source=mnist_files.source)
    assert _files_in(cache) == []


def test_injected_downloader_receives_the_canonical_url(mnist_files, tmp_path):
    requested = []

    def copy_from_fixture(url, output_file, pooch):
        requested.append(url)
        filename = url.rsplit("/", 1)[-1]
        with open(output_file, "wb") as out:
            out.write(mnist_files.path(filename).read_bytes())

    with pytest.raises(DownloadError) as caught:
        load_dataset("mnist", cache_dir=tmp_path / "cache", downloader=copy_from_fixture)
    # The canonical checksums refuse the small files, so only the first file is tried, on
    # every mirror, and the error says what each one served.
    assert requested == list(MNIST.files[0].urls)
    for url in MNIST.files[0].urls:
        assert f"{url}: md5 mismatch: expected f68b3c2dcbeaaa9fbdd348bbdeb94873" in str(
            caught.value
        )
    assert "bytes of 9912422)" in str(caught.value)


def test_search_order_data_dir_then_environment_then_cache(mnist_files, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    (cache / "mnist").mkdir(parents=True)
    flat = tmp_path / "flat"
    flat.mkdir()
    for source_file in MNIST.files:
        data = mnist_files.path(source_file.filename).read_bytes()
        (cache / "mnist" / source_file.filename).write_bytes(data)
        (flat / source_file.filename).write_bytes(data)
    locator = DataLocator(cache_dir=cache, download=False)

    def loaded_from(loc):
        return {record.path.parent for record in load_mnist(loc, source=mnist_files.source).sources}

    assert loaded_from(locator) == {cache / "mnist"}
    monkeypatch.setenv("CNNBENCH_DATA", f"{tmp_path / 'absent'}:{flat}")
    assert loaded_from(locator) == {flat}  # files at the top of a directory count too
    assert loaded_from(dataclasses.replace(locator, data_dir=mnist_files.data_dir)) == {
        mnist_files.data_dir / "mnist"
    }


def test_a_bad_file_is_an_error_not_a_fall_through(mnist_files, tmp_path):
    bad_dir = tmp_path / "bad" / "mnist"
    bad_dir.mkdir(parents=True)
    (bad_dir / "train-images-idx3-ubyte.gz").write_bytes(b"not the file")
    locator = DataLocator(data_dir=tmp_path / "bad", cache_dir=mnist_files.data_dir)
    with pytest.raises(ChecksumMismatchError) as caught:
        load_mnist(locator, source=mnist_files.source)
    assert caught.value.path == bad_dir / "train-images-idx3-ubyte.gz"


def test_not_found_with_downloads_off_lists_the_places(tmp_path):
    with pytest.raises(DataFileNotFoundError) as caught:
        load_dataset("mnist", data_dir=tmp_path / "mine", download=False)
    message = str(caught.value)
    assert str(tmp_path / "mine" / "mnist" / "train-images-idx3-ubyte.gz") in message
    assert str(default_cache_dir() / "mnist" / "train-images-idx3-ubyte.gz") in message
    assert "f68b3c2dcbeaaa9fbdd348bbdeb94873" in message
    assert "CNNBENCH_DATA" in message
    assert caught.value.summary == "mnist: train-images-idx3-ubyte.gz not found"


def test_truncated_canonical_file_is_called_truncated(tmp_path):
    path = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    path.parent.mkdir()
    path.write_bytes(b"\x1f\x8b" + bytes(100))
    source = DatasetSource("mnist", (MNIST.file("t10k-labels-idx1-ubyte.gz"),))
    with pytest.raises(ChecksumMismatchError, match="truncated: 102 bytes instead of 4542"):
        DataLocator(data_dir=tmp_path, download=False).fetch_all(source)


def test_default_cache_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBENCH_CACHE", str(tmp_path / "elsewhere"))
    assert DataLocator().resolved_cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("CNNBENCH_CACHE")
    assert default_cache_dir().name == "cnnbench"


def test_source_file_lookup():
    assert MNIST.file("t10k-labels-idx1-ubyte.gz").size == 4542
    with pytest.raises(KeyError, match="no file"):
        MNIST.file("extra.gz")
    assert isinstance(MNIST.files[0], SourceFile)
