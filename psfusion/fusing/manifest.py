"""``OUT/manifest.json`` of a fused dataset: what produced it, and every finished file's checksum.

The manifest is rewritten atomically after every batch, under a lock (``.manifest.json.lock``
beside it, ``fcntl.flock``) and merged with what is on disk, so concurrent runs into one folder
(one per split) all end up in it.  A rerun into the same folder continues
it when the identity matches (format, layout, source, fusion method and the method's own
:meth:`~psfusion.fusers.Fuser.identity`, e.g. its weights' checksum) and is refused otherwise.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os.path as osp
import resource
import subprocess
from dataclasses import dataclass, field
from typing import Iterator, Optional

try:
    import fcntl
except ImportError:  # not POSIX: no locking
    fcntl = None

from .. import __version__
from ..fileio import write_json
from ..fusers.base import FusingError

MANIFEST = 'manifest.json'
#: The lock file beside the manifest (:func:`locked`).
LOCK = '.manifest.json.lock'
MANIFEST_FORMAT = 'psfusion-fused-dataset/2'  # /2: any fusion method (``method``, ``identity``)
#: Header fields a rerun keeps from the folder's manifest when it does not set them itself.
KEPT_ON_RESUME = ('params', 'macs', 'complexity_input_hw', 'complexity_note')

__all__ = ['MANIFEST', 'MANIFEST_FORMAT', 'LOCK', 'Manifest', 'code_version', 'peak_rss_mib',
           'sha256_file', 'read_manifest', 'locked']


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def code_version() -> dict:
    """The package version and, when run from a git checkout, its commit (``-dirty`` when the
    working tree has changes)."""
    info = {'psfusion': __version__}
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    try:
        commit = subprocess.run(['git', '-C', root, 'rev-parse', 'HEAD'], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(['git', '-C', root, 'status', '--porcelain', '--untracked-files=no'],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        info['git'] = commit + ('-dirty' if dirty else '')
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def identity(header: dict) -> dict:
    """What must match for a rerun to continue a folder: format, layout, source, method and
    the method's identity entries (not, e.g., where the checkpoint lies)."""
    keys = dict(format=header.get('format'), layout=header.get('layout'),
                source=header.get('source'), method=header.get('method'))
    keys.update(header.get('identity') or {})
    return keys


def read_manifest(path: str) -> dict:
    """The manifest at ``path`` as a dict; a corrupt file is a :class:`FusingError` naming it
    and the JSON error."""
    try:
        with open(path, encoding='utf-8') as handle:
            data = json.load(handle)
    except OSError as exc:
        raise FusingError(f'{path}: cannot read the manifest ({exc.strerror}).') from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise FusingError(f'{path}: corrupt manifest, not valid JSON ({exc}). Delete it to fuse '
                          f'this folder again from scratch, or use another --out.') from exc
    if not isinstance(data, dict) or not isinstance(data.get('files', {}), dict):
        raise FusingError(f'{path}: not a fused-dataset manifest (a JSON object with "files" '
                          f'expected). Delete it to fuse this folder again from scratch, or use '
                          f'another --out.')
    return data


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """Hold an exclusive lock on ``LOCK`` beside ``path`` (the manifest) for a read-modify-write,
    so concurrent runs into one folder (e.g. one per split) never drop each other's entries.
    Without ``fcntl`` (not POSIX) nothing is locked."""
    if fcntl is None:
        yield
        return
    with open(osp.join(osp.dirname(path), LOCK), 'a', encoding='utf-8') as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def check_identity(header: dict, old: dict, out: str, path: str) -> None:
    """Refuse ``out`` when its manifest ``old`` was written with another identity."""
    new_id, old_id = identity(header), identity(old)
    changed = [k for k in dict(new_id, **old_id) if new_id.get(k) != old_id.get(k)]
    if 'method' in changed:  # the method's own settings differ too, naturally
        changed = [f'method ({old_id["method"]!r}; this run: {new_id["method"]!r})']
    if changed:
        raise FusingError(
            f'{out} already holds a fused dataset made with different {", ".join(changed)} '
            f'(see {path}). Use another --out, or delete the folder to start over.')


@dataclass
class Manifest:
    """``OUT/manifest.json`` in memory: the header (run description) and ``files``
    (``{relative path: {sha256, ...}}``).

    :meth:`save` merges with the file on disk under :func:`locked`: the splits and files this
    run recorded replace the disk's, everything else on disk (another run's split) is kept.
    """
    path: str
    header: dict
    files: dict = field(default_factory=dict)
    #: Files and splits this run recorded (they win over the disk's on :meth:`save`).
    recorded: set = field(default_factory=set)
    own_splits: set = field(default_factory=set)

    @classmethod
    def open(cls, out: str, header: dict) -> 'Manifest':
        """Load the manifest of ``out`` (resuming) or start one.  Refuses a folder written by
        another format, layout, source, method or model (see :func:`identity`) and a corrupt
        manifest (:func:`read_manifest`)."""
        path = osp.join(out, MANIFEST)
        with locked(path):
            if not osp.isfile(path):
                return cls(path, header)
            old = read_manifest(path)
        check_identity(header, old, out, path)
        merged = dict(header)
        for key in KEPT_ON_RESUME:
            if key in old:
                merged.setdefault(key, old[key])
        merged['splits'] = dict(old.get('splits', {}), **header.get('splits', {}))
        return cls(path, merged, old.get('files', {}))

    def done(self, out: str, rel: str) -> bool:
        """True when ``rel`` is recorded and the file on disk still has its checksum."""
        entry = self.files.get(rel)
        full = osp.join(out, rel)
        return bool(entry) and osp.isfile(full) and sha256_file(full) == entry['sha256']

    def record(self, out: str, rel: str, sha256: Optional[str] = None, **extra) -> None:
        """Record the file ``out/rel`` (just written) with its checksum (``sha256``: already
        computed by the writing thread; default: read back from disk)."""
        digest = sha256 or sha256_file(osp.join(out, rel))
        self.files[rel] = dict(sha256=digest, **extra)
        self.recorded.add(rel)

    def mark_split(self, split: Optional[str], pairs: int, complete: bool) -> None:
        """Record one split's pair count and whether all of it has been fused."""
        name = split or 'all'
        self.header.setdefault('splits', {})[name] = dict(pairs=pairs, complete=complete)
        self.own_splits.add(name)

    def save(self) -> None:
        """Merge with the manifest on disk (under the lock) and write it; ``complete`` is true
        when every recorded split is complete."""
        with locked(self.path):
            if osp.isfile(self.path):
                disk = read_manifest(self.path)
                check_identity(self.header, disk, osp.dirname(self.path), self.path)
                files = dict(self.files, **disk.get('files', {}))
                files.update({rel: self.files[rel] for rel in self.recorded})
                splits = dict(disk.get('splits', {}))
                ours = self.header.get('splits', {})
                splits.update({name: ours[name] for name in self.own_splits if name in ours})
                for name, info in ours.items():
                    splits.setdefault(name, info)
                for key in KEPT_ON_RESUME:
                    if key in disk:
                        self.header[key] = disk[key]
                self.files, self.header['splits'] = files, splits
            splits = self.header.get('splits', {})
            complete = bool(splits) and all(info.get('complete') for info in splits.values())
            write_json(self.path, dict(self.header, complete=complete,
                                       files=dict(sorted(self.files.items()))), indent=1)
