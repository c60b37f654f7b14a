"""Lookup indexes persisted under the data dir's cache, so a restart loads instead of rebuilding.

Building the index of a 100,000-entry bank means tokenising every script with jieba (minutes on
a 2-core machine), reading every vector from the embedding cache and partitioning them. The
built parts are kept as plain ``.npy`` arrays plus two JSON files in one folder per (bank
contents, model, tokeniser, format), named by their hash: a changed bank or model simply has no
folder yet. When the bank changes, the newest folder of the same model lends its vectors,
keyword counts and lists to every unchanged entry, so one approved script costs one encoding and
one tokenisation, not a full rebuild. Folders are written beside their final place and renamed
into it, so readers never see half a folder; anything unreadable counts as absent and is rebuilt.
Everything here is a cache: safe to delete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jieba
import numpy as np
import numpy.typing as npt
from scipy import sparse

from scripts_bank.bm25 import KeywordIndex, term_counts
from scripts_bank.lookup import BankEntry, ScriptIndex, entry_tokens
from scripts_bank.vectors import Partition, SemanticIndex
from training.nlp.embeddings import Embedder
from training.nlp.keywords import DOMAIN_WORDS, STOPWORDS

#: Bump when the files or their meaning change.
FORMAT = 1
INDEX_DIR = "lookup-index"
#: Folders kept; older ones are deleted after a save.
KEEP = 4
#: Smaller banks are built in memory: quicker than reading files.
PERSIST_FROM = 500
_META = "meta.json"
_STALE_SAVE = 3600  # seconds
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, IndexError, EOFError)


def keyword_version() -> str:
    """Changes whenever tokenisation would: jieba's version, the stopwords, the shop words."""
    spec = json.dumps([jieba.__version__, sorted(STOPWORDS), list(DOMAIN_WORDS)], ensure_ascii=False)
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def entry_keys(entries: Sequence[BankEntry]) -> npt.NDArray[np.bytes_]:
    """Content key of each entry (question and answer): what a rebuild may reuse."""
    return np.array([hashlib.sha256(f"{e.question}\x1f{e.answer}".encode()).digest()[:16]
                     for e in entries], dtype="S16")


def bank_digest(entries: Sequence[BankEntry]) -> str:
    """Hash of the whole bank: ids, texts and order."""
    digest = hashlib.sha256()
    for e in entries:
        digest.update(f"{e.id}\x1f{e.question}\x1f{e.answer}\x1e".encode())
    return digest.hexdigest()


def index_folder(cache_dir: Path, model_id: str, entries: Sequence[BankEntry]) -> Path:
    """Where the index of this bank under this model lives (it may not exist yet)."""
    key = f"{FORMAT}\0{model_id}\0{keyword_version()}\0{bank_digest(entries)}"
    return Path(cache_dir) / INDEX_DIR / hashlib.sha256(key.encode()).hexdigest()[:32]


def save_index(index: ScriptIndex, folder: Path) -> None:
    """Write ``index`` to ``folder`` atomically (a folder already there is left as it is)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        sem, kw = index.semantic, index.keyword_index
        arrays: dict[str, npt.NDArray[Any]] = {
            "vectors": sem.vectors, "mean": sem.mean, "covariance": sem.covariance,
            "keys": entry_keys(index.entries), "counts_data": kw.counts.data,
            "counts_indices": kw.counts.indices, "counts_indptr": kw.counts.indptr,
        }
        if sem.partition is not None:
            arrays |= {"centroids": sem.partition.centroids, "offsets": sem.partition.offsets,
                       "rows": sem.partition.rows}
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", array, allow_pickle=False)
        terms = sorted(kw.vocabulary, key=kw.vocabulary.__getitem__)
        (tmp / "terms.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        meta = {"format": FORMAT, "model_id": index.embedder.model_id, "keywords": keyword_version(),
                "digest": bank_digest(index.entries), "entries": len(index.entries),
                "partitioned": sem.partition is not None}
        (tmp / _META).write_text(json.dumps(meta), encoding="utf-8")
        tmp.chmod(0o755)
        os.rename(tmp, folder)
    except OSError:
        pass  # another process saved the same bank first, or the disk is full: it is only a cache
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class _Parts:
    meta: dict[str, Any]
    semantic: SemanticIndex
    keyword: KeywordIndex
    keys: npt.NDArray[np.bytes_]


def _read_parts(folder: Path) -> _Parts:
    """The arrays of a saved index, checked for consistency (raises one of ``_UNREADABLE``)."""
    meta = json.loads((folder / _META).read_text(encoding="utf-8"))

    def load(name: str) -> npt.NDArray[Any]:
        array: npt.NDArray[Any] = np.load(folder / f"{name}.npy", allow_pickle=False)
        return array

    n = int(meta["entries"])
    vectors, mean, covariance, keys = load("vectors"), load("mean"), load("covariance"), load("keys")
    dim = vectors.shape[1] if vectors.ndim == 2 else -1
    if vectors.shape != (n, dim) or mean.shape != (dim,) or covariance.shape != (dim, dim) or len(keys) != n:
        raise ValueError("vector arrays do not fit together")
    partition = None
    if meta["partitioned"]:
        centroids, offsets, rows = load("centroids"), load("offsets"), load("rows")
        if (centroids.ndim != 2 or centroids.shape[1] != dim or offsets.shape != (len(centroids) + 1,)
                or offsets[0] != 0 or offsets[-1] != n or np.any(np.diff(offsets) < 0)
                or rows.shape != (n,) or not np.array_equal(np.sort(rows), np.arange(n))):
            raise ValueError("lists do not fit the vectors")
        partition = Partition(centroids, offsets.astype(np.int64), rows.astype(np.int64))
    terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
    data, indices, indptr = load("counts_data"), load("counts_indices"), load("counts_indptr")
    if (not isinstance(terms, list) or indptr.shape != (n + 1,) or indptr[0] != 0 or indptr[-1] != len(data)
            or np.any(np.diff(indptr) < 0) or len(indices) != len(data)
            or (len(indices) and (indices.min() < 0 or indices.max() >= len(terms)))):
        raise ValueError("keyword counts do not fit the terms")
    counts = sparse.csr_matrix((data, indices, indptr), shape=(n, len(terms)))
    return _Parts(meta, SemanticIndex(vectors, mean, covariance, partition),
                  KeywordIndex.from_counts(terms, counts), keys)


def load_index(
    folder: Path, entries: Sequence[BankEntry], *, embedder: Embedder, semantic_weight: float,
) -> ScriptIndex | None:
    """The index saved in ``folder`` if it is complete and was built from exactly this bank and model."""
    try:
        parts = _read_parts(Path(folder))
        meta = parts.meta
        if (meta["format"] != FORMAT or meta["model_id"] != embedder.model_id
                or meta["keywords"] != keyword_version() or meta["digest"] != bank_digest(entries)):
            return None
        return ScriptIndex(entries, embedder=embedder, semantic_weight=semantic_weight,
                           semantic=parts.semantic, keyword_index=parts.keyword)
    except _UNREADABLE:
        return None


def _donor(cache_dir: Path, model_id: str, skip: Path) -> _Parts | None:
    """The newest readable index of the same model and tokeniser, to borrow unchanged entries from."""
    root = Path(cache_dir) / INDEX_DIR
    folders = sorted((p for p in root.glob("*") if p.is_dir() and not p.name.startswith(".") and p != skip),
                     key=lambda p: (p / _META).stat().st_mtime if (p / _META).exists() else 0, reverse=True)
    for folder in folders:
        try:
            meta = json.loads((folder / _META).read_text(encoding="utf-8"))
            if (meta["format"] == FORMAT and meta["model_id"] == model_id
                    and meta["keywords"] == keyword_version()):
                return _read_parts(folder)
        except _UNREADABLE:
            continue
    return None


def _prune(root: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest index folders, and leftovers of saves that died."""
    def age(path: Path) -> float:
        try:
            return (path / _META).stat().st_mtime
        except OSError:
            return 0.0

    folders = [p for p in root.glob("*") if p.is_dir()]
    done = sorted((p for p in folders if not p.name.startswith(".")), key=age, reverse=True)
    # A hidden folder is a save in progress, perhaps of another process: only old ones are dead.
    dead = [p for p in folders if p.name.startswith(".") and time.time() - p.stat().st_mtime > _STALE_SAVE]
    for folder in done[keep:] + dead:
        shutil.rmtree(folder, ignore_errors=True)


def build_index(
    entries: Sequence[BankEntry], *, embedder: Embedder, semantic_weight: float,
    donor: _Parts | None = None, show_progress: bool = False,
) -> ScriptIndex:
    """A fresh index of ``entries``, borrowing vectors, keyword counts and lists from ``donor``.

    Args:
        entries: the bank.
        embedder: encodes (through its cache) the questions the donor does not have.
        semantic_weight: fusion weight of the new index.
        donor: parts of an earlier index of the same model and tokeniser, or None.
        show_progress: progress bar on stderr while encoding.

    Returns:
        The index; entries whose question and answer the donor holds are neither re-encoded
        nor re-tokenised.
    """
    if donor is None or not entries:
        return ScriptIndex(entries, embedder=embedder, semantic_weight=semantic_weight,
                           show_progress=show_progress)
    old_row = {key: row for row, key in enumerate(donor.keys.tolist())}
    keys = entry_keys(entries).tolist()
    reused = np.array([i for i, key in enumerate(keys) if key in old_row], dtype=np.int64)
    fresh = np.array([i for i, key in enumerate(keys) if key not in old_row], dtype=np.int64)
    donor_rows = np.array([old_row[keys[i]] for i in reused], dtype=np.int64)
    sem = donor.semantic
    dim = sem.vectors.shape[1]
    vectors = np.empty((len(entries), dim), dtype=np.float32)
    stored = donor_rows if sem.position is None else sem.position[donor_rows]
    vectors[reused] = sem.vectors[stored]
    if len(fresh):
        new_vectors = embedder.embed([entries[i].question for i in fresh], show_progress=show_progress)
        if new_vectors.shape[1] != dim:
            return ScriptIndex(entries, embedder=embedder, semantic_weight=semantic_weight,
                               show_progress=show_progress)
        vectors[fresh] = new_vectors
    vocabulary = dict(donor.keyword.vocabulary)
    new_counts = term_counts([entry_tokens(entries[i]) for i in fresh], vocabulary)
    old_counts = donor.keyword.counts[donor_rows]
    old_counts.resize((len(reused), len(vocabulary)))
    new_counts.resize((len(fresh), len(vocabulary)))
    stacked = sparse.vstack([old_counts, new_counts], format="csr")
    counts = stacked[np.argsort(np.concatenate([reused, fresh]))]
    centroids = None
    if sem.partition is not None and len(sem) / 2 <= len(entries) <= 2 * len(sem):
        centroids = sem.partition.centroids  # still a fair partition of a bank of similar size
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    return ScriptIndex(entries, embedder=embedder, semantic_weight=semantic_weight,
                       semantic=SemanticIndex.build(vectors, centroids=centroids),
                       keyword_index=KeywordIndex.from_counts(terms, counts))


def cached_index(
    entries: Sequence[BankEntry], *, embedder: Embedder, semantic_weight: float, cache_dir: Path,
    show_progress: bool = False,
) -> ScriptIndex:
    """The index of ``entries``: loaded from ``cache_dir`` if saved, else built (reusing) and saved.

    Args:
        entries: the bank, in its search order (ties break in this order).
        embedder: the encoder (with its embedding cache) the index is for.
        semantic_weight: fusion weight (not part of the saved files; any weight loads them).
        cache_dir: the data dir's cache folder.
        show_progress: progress bar on stderr while encoding.

    Returns:
        A ready index. Banks under ``PERSIST_FROM`` entries are built in memory and not saved.
    """
    if len(entries) < PERSIST_FROM:
        return ScriptIndex(entries, embedder=embedder, semantic_weight=semantic_weight,
                           show_progress=show_progress)
    folder = index_folder(cache_dir, embedder.model_id, entries)
    index = load_index(folder, entries, embedder=embedder, semantic_weight=semantic_weight)
    if index is not None:
        return index
    donor = _donor(cache_dir, embedder.model_id, folder)
    index = build_index(entries, embedder=embedder, semantic_weight=semantic_weight, donor=donor,
                        show_progress=show_progress)
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)  # unreadable or stale: replace it
    save_index(index, folder)
    _prune(folder.parent, KEEP)
    return index
