"""Loaders for the benchmark data in ``/work/shared/data`` plus the plumbing the benches share.

The data is never copied into the repo (its licences forbid shipping it): every loader reads it
by path from the data root, ``../shared/data`` relative to the repo root unless the environment
variable ``HUASHU_BENCH_DATA`` says otherwise.

Besides the loaders, this module holds what every bench needs: the subprocess runner for the
``huashu`` CLI (benchmarks measure the real path a user takes), a character-bigram TF-IDF / BM25
baseline written with numpy + scipy.sparse, ranking metrics that treat ties honestly and a
rank-based AUC.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
import numpy.typing as npt
from scipy import sparse

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ENV = "HUASHU_BENCH_DATA"
SEED = 20240611

Pair = tuple[str, str, float]
T = TypeVar("T")

# --------------------------------------------------------------------------------------------
# data root
# --------------------------------------------------------------------------------------------


def data_root() -> Path:
    """The benchmark data folder: ``$HUASHU_BENCH_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get(DATA_ENV)
    root = Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "data"
    if not root.is_dir():
        raise FileNotFoundError(f"benchmark data not found at {root}; set {DATA_ENV} to the data folder")
    return root


def log(msg: str) -> None:
    """Progress line on stderr (stdout is reserved for the figures)."""
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# similarity sets: lists of (a, b, label)
# --------------------------------------------------------------------------------------------


def _read_json_lines(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _clue_pairs(path: Path) -> list[Pair]:
    """CURC-style JSON array of ``{text_a, text_b, label: 匹配|不匹配}``."""
    with path.open(encoding="utf-8") as fh:
        rows = json.load(fh)
    labels = {"匹配": 1.0, "不匹配": 0.0}
    return [(r["text_a"], r["text_b"], labels[r["label"]]) for r in rows]


def load_afqmc(root: Path | None = None) -> list[Pair]:
    """AFQMC dev (Alipay questions), binary: 1 = same intent."""
    path = (root or data_root()) / "afqmc" / "dev.json"
    return [(r["sentence1"], r["sentence2"], float(r["label"])) for r in _read_json_lines(path)]


def load_bq_corpus(root: Path | None = None) -> list[Pair]:
    """BQ corpus dev (WeBank questions), TSV ``q1 \\t q2 \\t label``."""
    path = (root or data_root()) / "bq_corpus" / "dev.tsv"
    pairs: list[Pair] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                pairs.append((parts[0], parts[1], float(parts[2])))
    return pairs


def load_lcqmc(root: Path | None = None, splits: Sequence[str] = ("dev", "test")) -> list[Pair]:
    """LCQMC (Baidu Zhidao questions), binary; dev + test by default."""
    base = (root or data_root()) / "lcqmc"
    return [p for split in splits for p in _clue_pairs(base / f"{split}.json")]


def load_pawsx(root: Path | None = None, splits: Sequence[str] = ("dev", "test")) -> list[Pair]:
    """PAWS-X zh (adversarial word-order paraphrases), binary; dev + test."""
    base = (root or data_root()) / "paws-x-zh"
    return [p for split in splits for p in _clue_pairs(base / f"{split}.json")]


def load_stsb(root: Path | None = None, splits: Sequence[str] = ("dev", "test")) -> list[Pair]:
    """Chinese STS-B (CNSD), graded 0-5; ``id||s1||s2||score``."""
    base = (root or data_root()) / "sts-b-zh"
    pairs: list[Pair] = []
    for split in splits:
        with (base / f"cnsd-sts-{split}.txt").open(encoding="utf-8") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("||")
                if len(parts) == 4:
                    pairs.append((parts[1], parts[2], float(parts[3])))
    return pairs


#: name -> (loader, binary labels?)
SIMILARITY_SETS: dict[str, tuple[Callable[[], list[Pair]], bool]] = {
    "afqmc": (load_afqmc, True),
    "bq_corpus": (load_bq_corpus, True),
    "lcqmc": (load_lcqmc, True),
    "paws-x-zh": (load_pawsx, True),
    "sts-b-zh": (load_stsb, False),
}


# --------------------------------------------------------------------------------------------
# dialogue sets
# --------------------------------------------------------------------------------------------

_CJK_SPACE = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")


def unsegment(text: str) -> str:
    """Undo ECD's word segmentation: drop spaces next to non-ASCII characters.

    Spaces between two ASCII tokens (``iphone 6``) are kept as one space.
    """
    return re.sub(r"\s+", " ", _CJK_SPACE.sub("", text)).strip()


@dataclass
class Turn:
    role: str  # "customer" | "agent"
    text: str


@dataclass
class EcdGroup:
    """One ECD test context: customer question, its previous turns, 10 candidates."""

    gid: str
    question: str
    context: list[Turn]
    candidates: list[str]  # in file order: candidates[0] is the true reply
    true_index: int = 0


def load_ecd_test(root: Path | None = None) -> list[EcdGroup]:
    """ECD Taobao test sample: groups of 10 lines, the first of each group is the true reply.

    Line format ``label \\t utt_1 … utt_n \\t response``; the context alternates customer/agent
    starting with the customer, so with an odd number of turns the last one (``utt_n``) is the
    customer turn to answer. Candidates are returned in file order (true first): callers must
    shuffle before scoring.
    """
    path = (root or data_root()) / "ecd_taobao" / "test"
    groups: list[EcdGroup] = []
    current: list[tuple[str, list[str], str]] = []

    def flush() -> None:
        if not current:
            return
        label, utts, _ = current[0]
        if label != "1" or any(c[0] != "0" for c in current[1:]):
            raise ValueError(f"{path}: group {len(groups)} does not start with its true reply")
        turns = [Turn("customer" if i % 2 == 0 else "agent", unsegment(u)) for i, u in enumerate(utts)]
        # the customer turn to answer is the last customer turn; everything before is context
        last_customer = max(i for i, t in enumerate(turns) if t.role == "customer")
        groups.append(
            EcdGroup(
                gid=f"ecd{len(groups):03d}",
                question=turns[last_customer].text,
                context=turns[:last_customer],
                candidates=[unsegment(c[2]) for c in current],
            )
        )
        current.clear()

    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            label, utts, response = parts[0], parts[1:-1], parts[-1]
            if current and (label == "1" or utts != current[0][1]):
                flush()
            current.append((label, utts, response))
    flush()
    return groups


JDDC_MSG_SEP = "!@@@!"


def _jddc_text(raw: str | None) -> str | None:
    """One JDDC utterance; consecutive messages (``!@@@!``) joined by a newline; NULL -> None."""
    raw = (raw or "").strip()
    if not raw or raw == "NULL":
        return None
    return "\n".join(m.strip() for m in raw.split(JDDC_MSG_SEP) if m.strip()) or None


@dataclass
class JddcTurn:
    """A JDDC 2019 customer turn answered by up to 3 human agents (no gold 'best')."""

    session: str
    segment: str  # "a" self-operated / "p" third-party store
    turn: int
    question: str | None
    context: list[Turn]
    #: the 3 agents' answers by slot, ``None`` where the agent did not reply (NULL)
    answers: list[str | None] = field(default_factory=list)

    @property
    def human_answers(self) -> list[tuple[int, str]]:
        """``(slot, text)`` of the non-NULL answers."""
        return [(i, a) for i, a in enumerate(self.answers) if a]


def load_jddc2019_dev(root: Path | None = None) -> list[JddcTurn]:
    """JDDC 2019 dev turns from ``dev_turns.jsonl``.

    Context entries are ``{q, a: [3 replies]}`` or ``{q}`` (consecutive customer turns); the
    agent side of the context uses the first non-NULL of the 3 replies.
    """
    path = (root or data_root()) / "jddc2019_dev" / "dev_turns.jsonl"
    out: list[JddcTurn] = []
    for row in _read_json_lines(path):
        context: list[Turn] = []
        for entry in row["context"]:
            q = _jddc_text(entry["q"])
            if q:
                context.append(Turn("customer", q))
            replies = [r for r in (_jddc_text(a) for a in entry.get("a", [])) if r]
            if replies:
                context.append(Turn("agent", replies[0]))
        answers = [_jddc_text(x) for x in row["answers"]]
        out.append(
            JddcTurn(
                session=row["session"],
                segment=row["segment"],
                turn=int(row["turn"]),
                question=_jddc_text(row["question"]),
                context=context,
                answers=answers,
            )
        )
    return out


@dataclass
class Jddc2018Pair:
    """A JDDC 2018 baseline dev context and the real agent reply to its last customer turn."""

    pid: str
    question: str
    context: list[Turn]
    reply: str


def load_jddc2018_dev(root: Path | None = None) -> list[Jddc2018Pair]:
    """JDDC 2018 baseline dev pairs (``devQuestions.txt`` line i -> ``devAnswers.txt`` line i).

    A question line is the dialogue joined by ASCII commas, customer turn last. Commas also join
    consecutive messages of one speaker, so roles cannot be recovered exactly: the last segment
    is the question, earlier segments are context with roles alternating backwards (approximate).
    """
    base = (root or data_root()) / "jddc2018_baseline"
    questions = (base / "devQuestions.txt").read_text(encoding="utf-8").splitlines()
    answers = (base / "devAnswers.txt").read_text(encoding="utf-8").splitlines()
    if len(questions) != len(answers):
        raise ValueError(f"{base}: {len(questions)} question lines vs {len(answers)} answer lines")
    out: list[Jddc2018Pair] = []
    for i, (q, a) in enumerate(zip(questions, answers, strict=True)):
        segments = [s.strip() for s in q.split(",") if s.strip()]
        reply = "，".join(s.strip() for s in a.split(",") if s.strip())
        if not segments or not reply:
            continue
        *before, question = segments
        n = len(before)
        context = [Turn("agent" if (n - k) % 2 == 1 else "customer", s) for k, s in enumerate(before)]
        out.append(Jddc2018Pair(f"jd18-{i:04d}", question, context, reply))
    return out


# --------------------------------------------------------------------------------------------
# subsampling
# --------------------------------------------------------------------------------------------


def subsample(items: list[T], max_items: int | None, seed: int = SEED) -> list[T]:
    """At most ``max_items`` items, drawn with a fixed seed, original order kept."""
    if max_items is None or max_items >= len(items):
        return items
    keep = sorted(random.Random(seed).sample(range(len(items)), max_items))
    return [items[i] for i in keep]


# --------------------------------------------------------------------------------------------
# the CLI, called exactly as a user would
# --------------------------------------------------------------------------------------------


CLI_ENV = "HUASHU_BENCH_CLI"


def huashu_exe() -> Path:
    """The ``huashu`` console script next to the running interpreter.

    ``$HUASHU_BENCH_CLI`` overrides it (e.g. to bench another install or a stub).
    """
    env = os.environ.get(CLI_ENV)
    return Path(env) if env else Path(sys.executable).parent / "huashu"


class CliError(RuntimeError):
    """The CLI failed (non-zero exit, bad output)."""


class CliMissingError(CliError):
    """The CLI is not installed."""


@dataclass
class CliRun:
    rows: list[dict[str, Any]]
    seconds: float  # wall clock
    cpu_seconds: float  # user + system CPU time of the CLI process


def children_cpu_seconds() -> float:
    """User + system CPU seconds of all waited-for child processes so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def self_cpu_seconds() -> float:
    """User + system CPU seconds of this process (all threads) so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def load_average() -> str:
    """The 1-minute load average: other work on the machine skews wall-clock figures."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _pump(src: IO[bytes], tail: bytearray) -> None:
    """Copy the child's stderr to ours as it comes (progress bars) and keep its last 4 KB."""
    dst = sys.stderr.buffer
    while chunk := src.read1(4096):
        dst.write(chunk)
        dst.flush()
        tail.extend(chunk)
        del tail[:-4096]


CACHE_MODES = ("cold", "warm")


def add_cli_options(ap: argparse.ArgumentParser) -> None:
    """``--model`` and ``--cache`` as every CLI bench takes them."""
    ap.add_argument("--model", default=None, help="passed to `huashu --model`")
    ap.add_argument(
        "--cache",
        choices=CACHE_MODES,
        default="cold",
        help="cold (default): the CLI runs with a bench-owned HUASHU_DATA_DIR and its embedding "
        "cache is emptied before every timed call, so wall times include encoding; warm: the "
        "normal data dir and whatever its cache holds",
    )


class Cli:
    """Runs ``huashu`` as a subprocess, exactly as a user would, and times it.

    In ``cold`` mode the CLI gets its own temporary ``HUASHU_DATA_DIR``; the encoder model
    folder is built there once (see :meth:`warm_up`), and every ``*.sqlite*`` file in its
    ``cache`` folder (the CLI's embedding cache) is deleted before each timed call.
    """

    def __init__(self, model: str | None = None, cache: str = "cold") -> None:
        if cache not in CACHE_MODES:
            raise ValueError(f"cache must be one of {CACHE_MODES}")
        self.model = model
        self.cache = cache
        self.exe = huashu_exe()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        #: why model figures are missing (CLI absent or failed); set by :meth:`try_run`
        self.note: str | None = None
        #: the CLI exists but failed: the bench should exit non-zero
        self.failed = False
        #: seconds of the warm-up call (:meth:`start`)
        self.startup_seconds: float | None = None
        self.env = dict(os.environ)
        if cache == "cold":
            self._tmp = tempfile.TemporaryDirectory(prefix="huashu-bench-data-")
            self.env["HUASHU_DATA_DIR"] = self._tmp.name

    @property
    def available(self) -> bool:
        return self.exe.exists()

    def describe(self) -> str:
        model = self.model or "default model"
        if self.cache == "cold":
            return f"{model}; embedding cache emptied before every call (model built once)"
        return f"{model}; warm: user data dir, embedding cache as it is"

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Cli:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _empty_embedding_cache(self) -> None:
        if self._tmp is None:
            return
        cache = Path(self._tmp.name) / "cache"
        if cache.is_dir():
            for f in cache.glob("*.sqlite*"):
                f.unlink()

    def start(self) -> float | None:
        """One tiny ``similarity`` call: start-up + model load (+ model build in cold mode).

        Run it before the timed calls so the one-off model build is not charged to them.
        """
        run = self.try_run("similarity", {"input": [{"id": "w", "a": "你好", "b": "您好"}]})
        self.startup_seconds = run.seconds if run else None
        return self.startup_seconds

    def try_run(
        self,
        command: str,
        inputs: dict[str, list[dict[str, Any]]],
        extra: Sequence[str] = (),
        env: dict[str, str] | None = None,
        empty_cache: bool = True,
    ) -> CliRun | None:
        """:meth:`run`, or None once the CLI is missing or has failed (reason in ``note``)."""
        if self.note is not None:
            return None
        try:
            return self.run(command, inputs, extra, env, empty_cache)
        except CliMissingError as exc:
            self.note = str(exc)
        except CliError as exc:
            self.note = str(exc)
            self.failed = True
        log(f"[bench] model figures skipped: {self.note}")
        return None

    def run(
        self,
        command: str,
        inputs: dict[str, list[dict[str, Any]]],
        extra: Sequence[str] = (),
        env: dict[str, str] | None = None,
        empty_cache: bool = True,
    ) -> CliRun:
        """``huashu COMMAND --<name> <name>.jsonl … --output out.jsonl [--model M]``.

        ``inputs`` maps option names (``bank``, ``input``) to the rows to write, in that order.
        ``env`` adds environment variables (e.g. ``HUASHU_RANK_WEIGHT_*``); ``empty_cache=False``
        keeps the embedding cache of a cold session (for untimed extra runs).
        The CLI's stderr passes through to ours. Output ids are checked against the input ids.
        """
        if not self.available:
            raise CliMissingError(f"{self.exe} not found (`pip install -e .` installs it)")
        if empty_cache:
            self._empty_embedding_cache()
        with tempfile.TemporaryDirectory(prefix=f"huashu-bench-{command}-") as tmp:
            args: list[str] = [str(self.exe), command]
            for name, rows in inputs.items():
                p = Path(tmp) / f"{name}.jsonl"
                write_jsonl(p, rows)
                args += [f"--{name}", str(p)]
            out = Path(tmp) / "out.jsonl"
            args += ["--output", str(out), *extra]
            if self.model:
                args += ["--model", self.model]
            tail = bytearray()
            cpu0 = children_cpu_seconds()
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                args,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={**self.env, **(env or {})},
            )
            assert proc.stderr is not None
            pump = threading.Thread(target=_pump, args=(proc.stderr, tail), daemon=True)
            pump.start()
            code = proc.wait()
            seconds = time.perf_counter() - t0
            cpu = children_cpu_seconds() - cpu0
            pump.join()
            if code != 0:
                lines = tail.decode("utf-8", "replace").strip().splitlines()
                last = lines[-1] if lines else "(no message)"
                raise CliError(f"`huashu {command}` exited {code}: {last}")
            if not out.exists():
                raise CliError(f"`huashu {command}` exited 0 but wrote no output file")
            rows = _read_json_lines(out)
        got = [r.get("id") for r in rows]
        if got != [r["id"] for r in inputs["input"]]:
            raise CliError(f"`huashu {command}`: output ids differ from the input ids/order")
        return CliRun(rows=rows, seconds=seconds, cpu_seconds=cpu)


# --------------------------------------------------------------------------------------------
# character-bigram TF-IDF and BM25 (numpy + scipy.sparse)
# --------------------------------------------------------------------------------------------

_WS = re.compile(r"\s+")


def char_bigrams(text: str) -> list[str]:
    """Character bigrams of ``text`` without whitespace; a 1-char text gives its unigram."""
    t = _WS.sub("", text)
    if len(t) < 2:
        return [t] if t else []
    return [t[i : i + 2] for i in range(len(t) - 1)]


class CharBigramTfidf:
    """TF-IDF over character bigrams, rows L2-normalised, so cosine = dot product.

    ``idf = ln((1 + N) / (1 + df)) + 1`` (smoothed); raw term counts. Unknown bigrams at
    transform time are ignored.
    """

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.idf: npt.NDArray[np.float64] = np.zeros(0)
        self.doc_len_mean = 0.0
        self.df: npt.NDArray[np.float64] = np.zeros(0)
        self.n_docs = 0

    def fit(self, texts: Iterable[str]) -> CharBigramTfidf:
        docs = [char_bigrams(t) for t in texts]
        for d in docs:
            for g in d:
                self.vocab.setdefault(g, len(self.vocab))
        counts = self._counts(docs)
        self.n_docs = counts.shape[0]
        self.df = np.asarray((counts > 0).sum(axis=0), dtype=np.float64).ravel()
        self.idf = np.log((1.0 + self.n_docs) / (1.0 + self.df)) + 1.0
        self.doc_len_mean = float(counts.sum()) / max(self.n_docs, 1)
        return self

    def _counts(self, docs: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        indptr = [0]
        indices: list[int] = []
        for d in docs:
            indices.extend(self.vocab[g] for g in d if g in self.vocab)
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float64)
        m = sparse.csr_matrix(
            (data, np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
            shape=(len(docs), len(self.vocab)),
        )
        m.sum_duplicates()
        return m

    def counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self._counts([char_bigrams(t) for t in texts])

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        m = self.counts(texts).multiply(self.idf[np.newaxis, :]).tocsr()
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms) @ m

    def pair_cosine(self, a: Sequence[str], b: Sequence[str]) -> npt.NDArray[np.float64]:
        """Row-wise cosine of ``a[i]`` and ``b[i]``."""
        ma, mb = self.transform(a), self.transform(b)
        return np.asarray(ma.multiply(mb).sum(axis=1)).ravel()

    def cosine_matrix(self, queries: Sequence[str], docs: Sequence[str]) -> npt.NDArray[np.float64]:
        """Dense ``len(queries) x len(docs)`` cosine matrix."""
        return np.asarray((self.transform(queries) @ self.transform(docs).T).todense())

    def bm25_matrix(
        self, queries: Sequence[str], docs: Sequence[str], k1: float = 1.2, b: float = 0.75
    ) -> npt.NDArray[np.float64]:
        """Okapi BM25 of each query against ``docs`` (the collection this model was fit on)."""
        tf = self.counts(docs).tocsc().astype(np.float64)
        dl = np.asarray(tf.sum(axis=1)).ravel()
        avg = dl.mean() if len(dl) else 1.0
        idf = np.log(1.0 + (self.n_docs - self.df + 0.5) / (self.df + 0.5))
        tf = tf.tocoo()
        denom = tf.data + k1 * (1.0 - b + b * dl[tf.row] / avg)
        w = tf.data * (k1 + 1.0) / denom * idf[tf.col]
        weights = sparse.csr_matrix((w, (tf.row, tf.col)), shape=tf.shape)
        q = self.counts(queries)
        q.data[:] = 1.0  # each query term counts once
        return np.asarray((q @ weights.T).todense())


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------


def auc(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """ROC AUC via the Mann-Whitney statistic (ties count half); NaN if one class is empty."""
    from scipy.stats import rankdata

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels) > 0.5
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return math.nan
    r = rankdata(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def rank_of_true(scores: npt.ArrayLike, true_index: int) -> tuple[int, int]:
    """``(greater, tied)``: how many other candidates score above / equal to the true one."""
    s = np.asarray(scores, dtype=np.float64)
    t = s[true_index]
    others = np.delete(s, true_index)
    return int((others > t).sum()), int((others == t).sum())


def expected_recall_at(greater: int, tied: int, k: int) -> float:
    """P(true in top k) when ties are broken at random (a constant scorer gets k/n)."""
    return min(max((k - greater) / (tied + 1), 0.0), 1.0)


def expected_reciprocal_rank(greater: int, tied: int) -> float:
    """E[1/rank] when the true item is placed uniformly among its ties."""
    return sum(1.0 / (greater + j) for j in range(1, tied + 2)) / (tied + 1)


def quartiles(values: npt.ArrayLike) -> tuple[float, float, float, float]:
    """(mean, q1, median, q3)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return (math.nan,) * 4
    q1, q2, q3 = np.percentile(v, [25, 50, 75])
    return float(v.mean()), float(q1), float(q2), float(q3)


def fmt(x: float | None, digits: int = 3) -> str:
    """Number for a Markdown table; NaN/None as ``n/a``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
