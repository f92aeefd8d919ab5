"""The user cache and checked downloads, shared by the datasets that download (MNIST, California housing).

fetch_verified() writes a file to a temporary name beside its final one, checks the length the server declared and
the SHA-256 of its content, and only then moves it into place: no partial or corrupted file is ever left behind.
folder_made() creates a folder for a download and removes what it created if the download fails.
"""

import hashlib
import os
import sys
import tempfile
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def cache_dir():
    """$XDG_CACHE_HOME/bp-parity, else ~/.cache/bp-parity."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bp-parity"


def fetch_verified(url, target, sha256, error=ValueError, content=None, progress=True, timeout=30):
    """Download `url` into `target` (a Path in an existing folder): `error` is raised for a truncated body or a
    SHA-256 other than `sha256`, taken of content(bytes) where `content` is given (MNIST: the decompressed IDX,
    since the .gz bytes differ between mirrors), else of the bytes themselves.  A progress bar on stderr unless
    progress is False."""
    target = Path(target)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(1 << 16):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    _progress(target.name, done, total)
            if progress:
                print(file=sys.stderr)
        if total and done != total:
            raise error(f"truncated download: {done} of {total} bytes")
        raw = Path(temporary).read_bytes()
        digest = hashlib.sha256(content(raw) if content else raw).hexdigest()
        if digest != sha256:
            raise error(f"SHA-256 of the {'content' if content else 'file'} is {digest}, expected {sha256}")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


@contextmanager
def folder_made(folder):
    """Create `folder` (and its missing parents) for a download; if the block fails, remove the folders it created
    again (innermost first, stopping at one that is not empty)."""
    folder = Path(folder)
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # innermost first
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    except BaseException:
        for made in created:
            try:
                made.rmdir()
            except OSError:
                break
        raise


def _progress(name, done, total):
    if total:
        filled = int(30 * done / total)
        bar = "#" * filled + "." * (30 - filled)
        print(f"\r{name} [{bar}] {done / 2**20:.1f}/{total / 2**20:.1f} MiB", end="", file=sys.stderr)
    else:
        print(f"\r{name} {done / 2**20:.1f} MiB", end="", file=sys.stderr)
