"""Fixtures for the datasets tests: small files in each canonical format, and no network.

The writers here build the formats by hand from their specifications (IDX headers with
``struct``, ``.mat`` files with ``scipy.io.savemat`` in the (32, 32, 3, N) layout,
CIFAR-10 batches pickled the way Python 2's cPickle wrote them), never with the loaders'
own code, so a loader that misreads a format fails here.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import os
import pickle
import socket
import struct
import tarfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.io import savemat

from datasets.sources import CIFAR10, MNIST, SVHN, DatasetSource

from ..conftest import canonical_mnist_dir

#: the canonical files' directory, captured before each test clears CNNBENCH_DATA
SHARED_DATA_DIR = os.environ.get("CNNBENCH_DATA")

IDX_UNSIGNED_BYTE = 0x08


def md5_of(path: Path) -> str:
    """MD5 of a file, computed independently of the package."""
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- isolation


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Refuse every connection and name lookup that leaves this machine."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise ConnectionRefusedError(f"test tried to reach the network: {address}")

    def connect(sock, address):
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _is_loopback(host):
            raise socket.gaierror(f"test tried to resolve a network name: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def isolated_data_environment(monkeypatch, tmp_path):
    """No CNNBENCH_DATA, and a throw-away default cache, in every test."""
    monkeypatch.delenv("CNNBENCH_DATA", raising=False)
    monkeypatch.setenv("CNNBENCH_CACHE", str(tmp_path / "default-cache"))


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The folder of canonical files named by CNNBENCH_DATA when the session started.

    Skipped when the variable is unset; a failure naming the path when it is set but the
    MNIST files are not there (tests/conftest.py's canonical_mnist_dir).
    """
    return canonical_mnist_dir(SHARED_DATA_DIR)


# ----------------------------------------------------------------------------- IDX


def idx_bytes(array: np.ndarray, type_code: int = IDX_UNSIGNED_BYTE) -> bytes:
    """An IDX file: magic 0x0000TTDD, big-endian uint32 sizes, then the data in C order."""
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data``, gzip-compressed when the name ends in .gz."""
    import gzip

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


@dataclass
class WrittenDataset:
    """Files written in a canonical format, and what a loader must return for them."""

    data_dir: Path
    images: np.ndarray
    labels: np.ndarray
    official_test_start: int
    source: DatasetSource

    def path(self, filename: str) -> Path:
        return self.data_dir / self.source.name / filename


def _digit_labels(count: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.arange(count) % 10).astype(np.uint8)


@pytest.fixture
def mnist_files(tmp_path) -> WrittenDataset:
    """The four MNIST .gz files, 60 training and 20 test images of 28x28."""
    rng = np.random.default_rng(3)
    counts = {"train": 60, "t10k": 20}
    directory = tmp_path / "data"
    images, labels = [], []
    for part, count in counts.items():
        part_images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        part_labels = _digit_labels(count, rng)
        write_bytes(directory / "mnist" / f"{part}-images-idx3-ubyte.gz", idx_bytes(part_images))
        write_bytes(directory / "mnist" / f"{part}-labels-idx1-ubyte.gz", idx_bytes(part_labels))
        images.append(part_images[..., np.newaxis])
        labels.append(part_labels)
    source = MNIST.with_checksums(
        {f.filename: md5_of(directory / "mnist" / f.filename) for f in MNIST.files}
    )
    return WrittenDataset(
        directory, np.concatenate(images), np.concatenate(labels), counts["train"], source
    )


# ----------------------------------------------------------------------------- SVHN


def write_svhn_mat(path: Path, images_nhwc: np.ndarray, labels_0_to_9: np.ndarray, **options):
    """An SVHN cropped-digits .mat: X as (32, 32, 3, N), y as (N, 1) with 10 for digit 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    variables = {
        "X": images_nhwc.transpose(1, 2, 3, 0),
        "y": np.where(labels_0_to_9 == 0, 10, labels_0_to_9).astype(np.uint8).reshape(-1, 1),
    }
    variables.update(options.pop("variables", {}))
    savemat(path, variables, **options)
    return path


@pytest.fixture
def svhn_files(tmp_path) -> WrittenDataset:
    """train_32x32.mat (compressed, as MATLAB v7 writes) and test_32x32.mat (plain v5)."""
    rng = np.random.default_rng(4)
    directory = tmp_path / "data"
    train = rng.integers(0, 256, size=(30, 32, 32, 3), dtype=np.uint8)
    test = rng.integers(0, 256, size=(10, 32, 32, 3), dtype=np.uint8)
    train_labels, test_labels = _digit_labels(30, rng), _digit_labels(10, rng)
    write_svhn_mat(directory / "svhn" / "train_32x32.mat", train, train_labels, do_compression=True)
    write_svhn_mat(directory / "svhn" / "test_32x32.mat", test, test_labels)
    source = SVHN.with_checksums(
        {f.filename: md5_of(directory / "svhn" / f.filename) for f in SVHN.files}
    )
    return WrittenDataset(
        directory,
        np.concatenate([train, test]),
        np.concatenate([train_labels, test_labels]),
        len(train),
        source,
    )


# ----------------------------------------------------------------------------- CIFAR-10


class _Python2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2's cPickle wrote it: every string is a byte string.

    Python 2 had no bytes/str split, so CIFAR-10's keys, names and the arrays' raw data
    are all SHORT_BINSTRING / BINSTRING opcodes, decoded on loading per the
    unpickler's encoding.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_byte_string(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_byte_string
    dispatch[bytes] = save_byte_string


def python2_pickle(obj: object) -> bytes:
    """Pickle ``obj`` as the canonical CIFAR-10 batches are pickled (NumPy 1 names)."""
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    # Protocol 2 writes globals as "c<module>\n<name>\n": rename NumPy 2's module to
    # the one NumPy 1 (and so the canonical files) used.
    return buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


CIFAR10_CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
CIFAR10_FOLDER = "cifar-10-batches-py"


def cifar_batch(images_nhwc: np.ndarray, labels: np.ndarray, batch_label: str) -> dict:
    """A batch dict: data rows are CHW-flattened images (1024 R, 1024 G, 1024 B)."""
    return {
        "batch_label": batch_label,
        "labels": [int(label) for label in labels],
        "data": images_nhwc.transpose(0, 3, 1, 2).reshape(len(images_nhwc), 3072),
        "filenames": [f"image_{index}.png" for index in range(len(images_nhwc))],
    }


def write_cifar_archive(path: Path, members: dict[str, bytes]) -> Path:
    """A tar.gz holding ``cifar-10-batches-py/<name>`` for each member, plus a readme."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        folder = tarfile.TarInfo(CIFAR10_FOLDER)
        folder.type = tarfile.DIRTYPE
        archive.addfile(folder)
        for name, data in {"readme.html": b"<html></html>", **members}.items():
            info = tarfile.TarInfo(f"{CIFAR10_FOLDER}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def cifar_members() -> SimpleNamespace:
    """Pickled members of a small CIFAR-10 archive (5 x 4 training, 6 test images)."""
    rng = np.random.default_rng(5)
    batch_sizes = [4, 4, 4, 4, 4, 6]
    images = rng.integers(0, 256, size=(sum(batch_sizes), 32, 32, 3), dtype=np.uint8)
    labels = np.arange(len(images)) % 10
    rng.shuffle(labels)
    names = [f"data_batch_{number}" for number in range(1, 6)] + ["test_batch"]
    starts = np.cumsum([0, *batch_sizes[:-1]])
    batches = {
        name: python2_pickle(
            cifar_batch(images[start : start + size], labels[start : start + size], name)
        )
        for name, start, size in zip(names, starts, batch_sizes, strict=True)
    }
    # The canonical archive does not store its members in batch order either.
    members = {name: batches[name] for name in reversed(names)}
    members["batches.meta"] = python2_pickle(
        {"num_cases_per_batch": 4, "label_names": list(CIFAR10_CLASS_NAMES), "num_vis": 3072}
    )
    return SimpleNamespace(members=members, images=images, labels=labels, test_start=20)


@pytest.fixture
def cifar_files(tmp_path, cifar_members) -> WrittenDataset:
    """cifar-10-python.tar.gz in the canonical layout."""
    directory = tmp_path / "data"
    path = write_cifar_archive(
        directory / "cifar10" / "cifar-10-python.tar.gz", cifar_members.members
    )
    source = CIFAR10.with_checksums({"cifar-10-python.tar.gz": md5_of(path)})
    return WrittenDataset(
        directory, cifar_members.images, cifar_members.labels, cifar_members.test_start, source
    )


@pytest.fixture
def formats() -> SimpleNamespace:
    """The format writers, for tests that build their own (often broken) files."""
    return SimpleNamespace(
        md5_of=md5_of,
        idx_bytes=idx_bytes,
        write_bytes=write_bytes,
        write_svhn_mat=write_svhn_mat,
        python2_pickle=python2_pickle,
        cifar_batch=cifar_batch,
        write_cifar_archive=write_cifar_archive,
    )


# ----------------------------------------------------------------------------- HTTP


@pytest.fixture
def file_server(monkeypatch):
    """A local HTTP server on 127.0.0.1 serving ``routes`` (path -> bytes).

    Paths in ``broken`` announce their full length but break off half-way.
    """
    for variable in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    routes: dict[str, bytes] = {}
    broken: set[str] = set()
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requested.append(self.path)
            body = routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path in broken:
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(
            url=f"http://127.0.0.1:{server.server_address[1]}",
            routes=routes,
            broken=broken,
            requested=requested,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
