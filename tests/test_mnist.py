"""The IDX reader, load_mnist and the checked download (against a server on 127.0.0.1)."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from bp_parity.impl import mnist

SUBSET = Path(__file__).resolve().parent.parent / "fixtures" / "mnist-subset"


def test_subset_loads_like_the_textbook():
    (x, t), (xt, tt) = mnist.load_mnist(data_dir=SUBSET)
    assert x.shape == (500, 784) and x.dtype == np.float32 and t.shape == (500,)
    assert xt.shape == (100, 784) and tt.shape == (100,)
    assert 0.0 <= x.min() and x.max() == 1.0
    (x, t), _ = mnist.load_mnist(normalize=False, flatten=False, one_hot_label=True, dtype=np.float64, data_dir=SUBSET)
    assert x.shape == (500, 1, 28, 28) and x.dtype == np.uint8 and x.max() == 255
    assert t.shape == (500, 10) and t.dtype == np.float64 and np.all(t.sum(axis=1) == 1)


def test_raw_and_gz_files_load_the_same(tmp_path):
    for name in mnist.FILES.values():
        (tmp_path / name).write_bytes(gzip.decompress((SUBSET / f"{name}.gz").read_bytes()))
    raw = mnist.load_mnist(data_dir=tmp_path)
    gz = mnist.load_mnist(data_dir=SUBSET)
    for a, b in zip([*raw[0], *raw[1]], [*gz[0], *gz[1]]):
        np.testing.assert_array_equal(a, b)


def _copy_subset(folder):
    for name in mnist.FILES.values():
        (folder / f"{name}.gz").write_bytes((SUBSET / f"{name}.gz").read_bytes())


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: raw[:-10], "truncated"),
        (lambda raw: raw[:6], "truncated"),
        (lambda raw: b"\0\0\x09\x03" + raw[4:], "wrong magic number"),
        (lambda raw: raw + b"\0", "bytes after the data"),
    ],
    ids=["truncated-data", "truncated-header", "wrong-magic", "trailing-bytes"],
)
def test_a_damaged_file_is_named_with_what_is_wrong(tmp_path, damage, message):
    _copy_subset(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(damage(gzip.decompress(path.read_bytes()))))
    with pytest.raises(mnist.MnistError, match=message) as caught:
        mnist.load_mnist(data_dir=tmp_path)
    assert "train-images-idx3-ubyte" in str(caught.value)


def test_labels_swapped_for_images_is_a_wrong_magic(tmp_path):
    _copy_subset(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes((SUBSET / "train-images-idx3-ubyte.gz").read_bytes())
    with pytest.raises(mnist.MnistError, match="wrong magic number 0x00000803, expected 0x00000801"):
        mnist.load_mnist(data_dir=tmp_path)


def test_counts_that_differ_and_labels_out_of_range(tmp_path):
    _copy_subset(tmp_path)
    labels = mnist.read_idx(SUBSET / "train-labels-idx1-ubyte.gz")
    mnist.write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels[:-1])
    with pytest.raises(mnist.MnistError, match="500 images but 499 labels"):
        mnist.load_mnist(data_dir=tmp_path)
    bad = labels.copy()
    bad[3] = 11
    mnist.write_idx(tmp_path / "train-labels-idx1-ubyte.gz", bad)
    with pytest.raises(mnist.MnistError, match="out of range 0..9"):
        mnist.load_mnist(data_dir=tmp_path)


def test_search_order_data_dir_then_env_then_cache(tmp_path, monkeypatch):
    env, cache = tmp_path / "env", tmp_path / "cache"
    (env / "mnist").mkdir(parents=True)
    (cache / "bp-parity" / "mnist").mkdir(parents=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("BP_PARITY_DATA", str(env))
    _copy_subset(cache / "bp-parity" / "mnist")
    assert mnist.find_mnist(download=False) == cache / "bp-parity" / "mnist"
    _copy_subset(env / "mnist")
    assert mnist.find_mnist(download=False) == env / "mnist"
    assert mnist.find_mnist(SUBSET, download=False) == SUBSET


def test_nothing_found_and_no_download_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("BP_PARITY_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(mnist.MnistError, match="nowhere.*cache.*place the files by hand"):
        mnist.find_mnist(download=False)


# --- downloads, from a server on 127.0.0.1 -------------------------------------------------


def _subset_checksums(monkeypatch):
    checksums = {
        name: hashlib.sha256(gzip.decompress((SUBSET / f"{name}.gz").read_bytes())).hexdigest()
        for name in mnist.FILES.values()
    }
    monkeypatch.setattr(mnist, "SHA256", checksums)


def _serve(routes, prefix, status=200, damage=None, declared_extra=0):
    for name in mnist.FILES.values():
        body = (SUBSET / f"{name}.gz").read_bytes()
        body = damage(body) if damage else body
        routes[f"{prefix}/{name}.gz"] = (status, body, len(body) + declared_extra if declared_extra else None)


def test_download_verifies_and_moves_into_place(server, tmp_path, monkeypatch):
    url, routes = server
    _subset_checksums(monkeypatch)
    _serve(routes, "/good")
    mnist.download_mnist(tmp_path, mirrors=[f"{url}/good/"], progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.gz" for n in mnist.FILES.values())
    assert mnist.load_mnist(data_dir=tmp_path)[0][0].shape == (500, 784)


@pytest.mark.parametrize(
    "status, damage, declared_extra, why",
    [
        (404, None, 0, "404"),
        (403, None, 0, "403"),
        (200, lambda body: body[: len(body) // 2], 0, "truncated|Compressed file ended|EOF"),
        (200, None, 1000, "truncated|IncompleteRead|Connection"),
        (200, lambda body: gzip.compress(b"\0\0\x08\x01" + b"\0" * 20), 0, "SHA-256"),
    ],
    ids=["not-found", "forbidden", "truncated-gzip", "short-body", "corrupted-content"],
)
def test_a_bad_mirror_is_skipped_for_the_next_and_leaves_no_file(server, tmp_path, monkeypatch, status, damage,
                                                                   declared_extra, why):
    url, routes = server
    _subset_checksums(monkeypatch)
    _serve(routes, "/bad", status=status, damage=damage, declared_extra=declared_extra)
    with pytest.raises(mnist.MnistError, match=why) as caught:
        mnist.download_mnist(tmp_path, mirrors=[f"{url}/bad/"], progress=False, timeout=5)
    assert "place the files by hand" in str(caught.value) and f"{url}/bad/" in str(caught.value)
    assert list(tmp_path.iterdir()) == [], "a failed download left a file behind"

    _serve(routes, "/good")
    mnist.download_mnist(tmp_path, mirrors=[f"{url}/bad/", f"{url}/good/"], progress=False, timeout=5)
    assert len(list(tmp_path.iterdir())) == 4


def test_load_mnist_downloads_into_the_cache_when_nothing_is_found(server, tmp_path, monkeypatch):
    url, routes = server
    _subset_checksums(monkeypatch)
    _serve(routes, "/good")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("BP_PARITY_DATA", raising=False)
    monkeypatch.setattr(mnist, "MIRRORS", (f"{url}/good/",))
    folder = mnist.find_mnist(mirrors=mnist.MIRRORS)
    assert folder == tmp_path / "bp-parity" / "mnist"
    assert len(list(folder.glob("*.gz"))) == 4


def test_a_failed_download_into_the_cache_leaves_no_empty_folder(server, tmp_path, monkeypatch):
    url, routes = server
    _subset_checksums(monkeypatch)
    _serve(routes, "/bad", status=404)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("BP_PARITY_DATA", raising=False)
    with pytest.raises(mnist.MnistError, match="--data-dir") as caught:
        mnist.find_mnist(mirrors=(f"{url}/bad/",))
    assert "\n" in str(caught.value) and not (tmp_path / "cache").exists(), list(tmp_path.rglob("*"))
