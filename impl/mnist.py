"""MNIST: the IDX reader, the loader with the textbook's options, and a checked download.

load_mnist(normalize=True, flatten=True, one_hot_label=False) returns
((x_train, t_train), (x_test, t_test)) as the textbook does.  The four standard
files (.gz or raw) are found in `data_dir`, then $BP_PARITY_DATA/mnist, then the
user cache ($XDG_CACHE_HOME/bp-parity/mnist, else ~/.cache/bp-parity/mnist),
and are otherwise downloaded into the cache from public mirrors, each file's
decompressed content checked against its SHA-256.
"""

import gzip
import os
import urllib.error
from pathlib import Path

import numpy as np

from bp_parity.impl.download import cache_dir, fetch_verified, folder_made

FILES = {
    "train_img": "train-images-idx3-ubyte",
    "train_label": "train-labels-idx1-ubyte",
    "test_img": "t10k-images-idx3-ubyte",
    "test_label": "t10k-labels-idx1-ubyte",
}

# SHA-256 of the decompressed IDX content (the .gz bytes differ between mirrors).
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

IMAGE_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABEL_MAGIC = 0x00000801  # unsigned bytes, 1 dimension


class MnistError(ValueError):
    """A dataset file that is missing, truncated or not what it claims to be."""


def read_idx(path, expected_magic=None):
    """An IDX file (.gz or raw) as a uint8 array of the shape its header declares.

    Checks the magic number, that the dimensions are positive, and that the
    data is exactly as long as the dimensions say.
    """
    path = Path(path)
    try:
        raw = _read_bytes(path)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise MnistError(f"{path}: cannot read: {error}") from None
    if len(raw) < 4:
        raise MnistError(f"{path}: truncated: {len(raw)} bytes, not even an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if raw[:2] != b"\0\0" or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise MnistError(f"{path}: wrong magic number 0x{magic:08x}: not an IDX file of unsigned bytes")
    if expected_magic is not None and magic != expected_magic:
        raise MnistError(f"{path}: wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise MnistError(f"{path}: truncated: header declares {ndim} dimensions, file has {len(raw)} bytes")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_length = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) < expected_length:
        raise MnistError(f"{path}: truncated: dimensions {dims} need {expected_length} bytes, file has {len(raw)}")
    if len(raw) > expected_length:
        raise MnistError(f"{path}: {len(raw) - expected_length} bytes after the data that dimensions {dims} declare")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def write_idx(path, array):
    """Write a uint8 array as an IDX file (gzip-compressed when the name ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    if str(path).endswith(".gz"):
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:  # mtime 0: same bytes every time
            f.write(data)
    else:
        Path(path).write_bytes(data)


def _read_bytes(path):
    with open(path, "rb") as f:
        head = f.read(2)
    if head == b"\x1f\x8b":
        with gzip.open(path, "rb") as f:
            return f.read()
    return path.read_bytes()


def _find(folder, name):
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def _folder_with_all(folder):
    return folder is not None and all(_find(Path(folder), name) for name in FILES.values())


def find_mnist(data_dir=None, download=True, mirrors=MIRRORS):
    """The folder holding the four IDX files, by the search order in the module docstring."""
    tried = []
    if data_dir is not None:
        if _folder_with_all(data_dir):
            return Path(data_dir)
        tried.append(f"data_dir {data_dir}")
        raise MnistError(f"{data_dir} does not hold the four MNIST files: {_missing(data_dir)}")
    env = os.environ.get("BP_PARITY_DATA")
    if env:
        if _folder_with_all(Path(env) / "mnist"):
            return Path(env) / "mnist"
        tried.append(f"$BP_PARITY_DATA/mnist = {Path(env) / 'mnist'}")
    cached = cache_dir() / "mnist"
    if _folder_with_all(cached):
        return cached
    tried.append(f"the cache {cached}")
    if not download:
        raise MnistError("MNIST not found in " + "; ".join(tried) + ". " + _by_hand(cached))
    download_mnist(cached, mirrors=mirrors, tried=tried)
    return cached


def _missing(folder):
    return ", ".join(n for n in FILES.values() if not _find(Path(folder), n)) or "none"


def _by_hand(folder):
    return (
        f"To place the files by hand, put {', '.join(f + '.gz' for f in FILES.values())} "
        f"into {folder}, or into a folder given as --data-dir (data_dir= in Python), or into $BP_PARITY_DATA/mnist."
    )


def download_mnist(folder, mirrors=MIRRORS, tried=None, progress=True, timeout=30):
    """Download the four files into `folder`, verifying each one's decompressed SHA-256 (impl.download).

    Each file is written to a temporary name beside its final one and moved into
    place only once verified: no partial file is ever left behind, nor a folder
    the download created.  A failing mirror (unreachable, 404/403, truncated,
    corrupted) is skipped for the next.
    """
    tried = list(tried or [])
    with folder_made(folder) as folder:
        for name in FILES.values():
            if _find(folder, name):
                continue
            failures = []
            for mirror in mirrors:
                url = f"{mirror.rstrip('/')}/{name}.gz"
                try:
                    fetch_verified(url, folder / f"{name}.gz", SHA256[name], MnistError, gzip.decompress, progress,
                                   timeout)
                    break
                except (OSError, urllib.error.URLError, MnistError, EOFError, gzip.BadGzipFile) as error:
                    failures.append(f"{url}: {error}")
            else:
                raise MnistError(f"could not obtain {name}. Tried:\n  " + "\n  ".join(tried + failures) + "\n"
                                 + _by_hand(folder))


def load_mnist(normalize=True, flatten=True, one_hot_label=False, dtype=np.float32, data_dir=None, download=True):
    """((x_train, t_train), (x_test, t_test)) as the textbook's load_mnist returns them.

    normalize: pixels as `dtype` in [0, 1] (else uint8 0..255).
    flatten: images as (N, 784) (else (N, 1, 28, 28)).
    one_hot_label: labels as (N, 10) one-hot of `dtype` (else class indices (N,) uint8).
    """
    folder = find_mnist(data_dir, download=download)
    arrays = {}
    for key, name in FILES.items():
        magic = IMAGE_MAGIC if key.endswith("img") else LABEL_MAGIC
        arrays[key] = read_idx(_find(folder, name), expected_magic=magic)
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_img"], arrays[f"{split}_label"]
        if len(images) != len(labels):
            raise MnistError(f"{folder}: {split} has {len(images)} images but {len(labels)} labels")
        if labels.size and labels.max() > 9:
            raise MnistError(f"{folder}: {split} labels out of range 0..9 (found {labels.max()})")
        if images.shape[1:] != (28, 28):
            raise MnistError(f"{folder}: {split} images are {images.shape[1:]}, not 28x28")

    def images(x):
        x = x.astype(dtype) / np.dtype(dtype).type(255) if normalize else x.copy()
        return x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, 28, 28)

    def labels(t):
        return np.eye(10, dtype=dtype)[t] if one_hot_label else t.copy()

    return (
        (images(arrays["train_img"]), labels(arrays["train_label"])),
        (images(arrays["test_img"]), labels(arrays["test_label"])),
    )
