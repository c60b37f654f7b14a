"""Model folders on disk: publishing a freshly written folder atomically, checking recorded sizes.

Both the embedded encoder's rebuild (``training.nlp.encoder.embedded``) and the ONNX export
(``training.nlp.encoder.onnx``) write a whole folder beside its target and rename it into place,
so readers see no folder, the old one or the complete new one, never a half-written one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def _fsync_tree(folder: Path) -> None:
    """Flush every file to disk, so the rename below never publishes data still in flight."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def sizes_match(folder: Path, sizes: object) -> bool:
    """True if every file a build marker lists (name -> bytes) is in ``folder`` at that size.

    Sizes catch a file truncated after the build (e.g. a crash before the data hit the disk).
    """
    if not isinstance(sizes, dict):
        return False
    try:
        return all((folder / name).stat().st_size == size for name, size in sizes.items())
    except OSError:
        return False


def publish_dir(
    target: Path, write: Callable[[Path], None], is_complete: Callable[[], bool], what: str
) -> None:
    """Fill a new folder with ``write`` and rename it to ``target``, replacing what is there.

    ``target.parent`` must exist. If ``target`` exists and ``is_complete()`` says it is good
    (another process just published it), that one is kept; otherwise it is moved aside. ``what``
    names the folder in the error raised when the rename keeps failing.
    """
    # Build beside the target (same filesystem) so the final rename is atomic: readers see
    # either no folder, the old folder, or the complete new one, never a half-written one.
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
    try:
        write(tmp)
        # mkdtemp makes the folder private (0700); the cache may be shared by the app and the CLI.
        for path in [tmp, *tmp.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        _fsync_tree(tmp)
        for _ in range(5):
            try:
                os.rename(tmp, target)
                return
            except OSError:
                # The target exists. If another process just finished a good build, use it.
                if is_complete():
                    return
                # Otherwise it is stale or half-written: move it aside and retry the rename.
                trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.stale-", dir=target.parent))
                try:
                    os.rename(target, trash / "old")
                except FileNotFoundError:
                    pass  # someone else moved it already
                shutil.rmtree(trash, ignore_errors=True)
        raise RuntimeError(f"could not move {what} into {target}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
