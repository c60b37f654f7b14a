"""Lookups per second one app replica sustains with 20, 50 and 100 concurrent sessions, and two replicas.

What is driven: the service layer, exactly as a page calls it —
``scripts_bank.service.lookup_scripts(session=…, actor=<agent>, query=…, embedder=…, k=5)`` with a
fresh ``Session`` per lookup (the app's ``db_session``), the app's engine (``training.core.db``),
one ``Embedder(load_encoder(), DbEmbeddingStore(engine))`` shared by all sessions of a process
(the app's ``st.cache_resource``), on a real database (default: PostgreSQL, database
``bench_lookup``) holding the 100,000-script bank of ``bench/lookup_scale.py`` as approved
scripts with their versions. Each lookup therefore does what the page does: the role and
open-exam checks, the bank's change counter, the search, highlighting, the relevance floor and the
lookup log (an INSERT/UPDATE + COMMIT). Streamlit's websocket protocol is not driven (rendering
is not measured).

A *session* is one thread acting as one agent (its own user), looking up distinct real
questions (``query_pool``: the 500 held-out queries and bank questions, 20,000 in all) back to
back (closed loop, no think time: the figure is the saturated throughput);
a *replica* is one OS process with its own encoder, index and connection pool; two replicas
split the sessions between two processes, as a sticky load balancer would. Every process first
answers one lookup (its time from process start is the service-path "first query" figure),
then all start together: ``--warmup`` seconds unmeasured, ``--seconds`` measured.

    python bench/lookup_load.py [--database-url URL] [--size 100000] [--sessions 20,50,100]
        [--replicas 1,2] [--seconds 30] [--warmup 5] [--generation-read as-is|session]

The bank's vectors come from ``bench/lookup_scale.py``'s cache (run it, or
``bench/lookup_bank_prefill.py``, first); the processes use a bench-owned data dir
(``<data dir>/cache/bench-lookup-load``) whose index is built once from the lookup_scale index.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/lookup_load.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

from bench.datasets import log, markdown_table  # noqa: E402

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:55433/bench_lookup"
AGENTS = 120
T0 = time.perf_counter()  # as early as this process can take it: the first-query clock


def _loads() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------------------------- set-up


def bench_data_dir(url: str) -> Path:
    """One bench data dir per database (its index folders are keyed on the bank anyway)."""
    import hashlib

    from training.core.config import get_settings

    return get_settings().cache_dir / "bench-lookup-load" / hashlib.sha256(url.encode()).hexdigest()[:12]


def prepare_data_dir(real_cache: Path, target: Path) -> None:
    """The children's data dir: the real model folder linked in, the lookup_scale index as donor."""
    cache = target / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    if not (cache / "models").exists():
        (cache / "models").symlink_to(real_cache / "models", target_is_directory=True)
    donors = real_cache / "bench-lookup-scale-index" / "lookup-index"
    mine = cache / "lookup-index"
    mine.mkdir(exist_ok=True)
    if donors.is_dir() and not any(p for p in mine.iterdir() if not p.name.startswith(".")):
        newest = max((p for p in donors.iterdir() if not p.name.startswith(".")),
                     key=lambda p: (p / "meta.json").stat().st_mtime)
        shutil.copytree(newest, mine / newest.name, copy_function=os.link)


def fill_database(url: str, size: int) -> tuple[int, float]:
    """Create (if needed) the database and put the bank in it; (scripts, seconds spent)."""
    from sqlalchemy import create_engine, func, insert, text
    from sqlalchemy.engine import make_url
    from sqlmodel import Session, select

    from bench.lookup_bank import build_scale_bank
    from training.auth.passwords import hash_password
    from training.core.db import make_engine
    from training.core.migrate import upgrade_database
    from training.models import Role, Script, ScriptVersion, User

    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                {"n": parsed.database}).first():
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    upgrade_database(url)
    engine = make_engine(url)
    t0 = time.perf_counter()
    with Session(engine) as session:
        have = session.exec(select(func.count()).select_from(Script)).one()
        agents = session.exec(select(func.count()).select_from(User)
                              .where(User.role == Role.AGENT.value)).one()
    if have == size and agents >= AGENTS:
        return size, 0.0
    bank = build_scale_bank(size, 500)
    log(f"[lookup_load] writing {size} scripts to {parsed.render_as_string(hide_password=True)} …")
    with engine.begin() as conn:
        for table in ("lookuplog", "scriptversion", "script"):
            conn.execute(text(f"DELETE FROM {table}"))
        if agents < AGENTS:
            password = hash_password("bench-lookup-load")
            conn.execute(insert(User.__table__), [  # type: ignore[attr-defined]
                {"username": f"load-agent-{i}", "display_name": f"压测坐席{i}", "role": Role.AGENT.value,
                 "password_hash": password, "is_active": True, "failed_logins": 0, "session_version": 0,
                 "created_at": _now(), "joined_at": _now()} for i in range(agents, AGENTS)])
        now = _now()
        for start in range(0, size, 5000):
            part = bank.entries[start : start + 5000]
            conn.execute(insert(Script.__table__), [  # type: ignore[attr-defined]
                {"id": start + i + 1, "question": e["question"], "category": "other", "tags": [],
                 "status": "approved", "current_version": 1, "product": "", "variant": "",
                 "created_at": now, "updated_at": now} for i, e in enumerate(part)])
            conn.execute(insert(ScriptVersion.__table__), [  # type: ignore[attr-defined]
                {"script_id": start + i + 1, "version": 1, "question": e["question"], "answer": e["answer"],
                 "note": "", "created_at": now, "status": "approved"} for i, e in enumerate(part)])
        if parsed.get_backend_name() == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('script', 'id'), :n)"), {"n": size})
    if parsed.get_backend_name() == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return size, time.perf_counter() - t0


def _now() -> Any:
    from training.models import utcnow

    return utcnow()


def query_pool(size: int, n: int = 20_000) -> list[str]:
    """``n`` distinct real questions: the held-out queries (not in the bank), then bank questions.

    Few real questions exist outside the bank (it holds every distinct sentence of the pair sets),
    so the rest are bank questions drawn with the fixed seed (a pasted question can match one
    exactly; its encoding costs the same). Shuffled, so every session mixes both kinds; with
    20,000 distinct queries the query-vector LRU almost never hits.
    """
    import random

    from bench.datasets import SEED
    from bench.lookup_bank import build_scale_bank

    bank = build_scale_bank(size, 500)
    held = [q for q, _ in bank.queries]
    rng = random.Random(SEED)
    questions = [e["question"] for e in bank.entries]
    pool = list(dict.fromkeys(held + rng.sample(questions, min(n, len(questions)))))[:n]
    rng.shuffle(pool)
    return pool


# ---------------------------------------------------------------------------------- one replica


def replica_child(url: str, threads: int, warmup: float, seconds: float, pool_file: str, offset: int,
                  signature: str) -> None:
    """One replica: load, answer a first lookup, then run ``threads`` sessions when told to go."""
    c0 = time.process_time()
    from sqlmodel import Session, col, select

    from scripts_bank import service
    from training.core.config import get_settings
    from training.core.db import make_engine
    from training.models import Role, User
    from training.nlp.embeddings import DbEmbeddingStore, Embedder
    from training.nlp.encoder.load import load_encoder

    t_imports = time.perf_counter() - T0
    pool = json.loads(Path(pool_file).read_text(encoding="utf-8"))
    engine = make_engine(url)
    embedder = Embedder(load_encoder(), DbEmbeddingStore(engine))
    t_encoder = time.perf_counter() - T0
    weight = get_settings().lookup_semantic_weight
    with Session(engine, expire_on_commit=False) as session:
        users = list(session.exec(select(User).where(User.role == Role.AGENT.value)
                                  .order_by(col(User.id))).all())
    users = users[offset : offset + threads]
    with Session(engine, expire_on_commit=False) as session:
        hits = service.lookup_scripts(session=session, actor=users[0], query=pool[offset], embedder=embedder,
                                      semantic_weight=weight)
    first = {"imports": t_imports, "encoder": t_encoder - t_imports,
             "first_lookup": time.perf_counter() - T0 - t_encoder, "ready": time.perf_counter() - T0,
             "ready_cpu": time.process_time() - c0, "hits": len(hits)}
    if signature == "session":
        # The bank counter read through the request's own session, not a second pool connection
        # (``training.core.generations.read`` opens one while the session holds its own: with
        # 15+ sessions per process every pooled connection is held by a thread waiting for a
        # second one, until the pool's 30-s timeout). Same once-a-second cache.
        from sqlalchemy import text

        from training.core import generations

        def via_session(session: Any) -> int:
            key = (id(session.get_bind().engine), generations.SCRIPTS)
            now = time.monotonic()
            with generations._lock:  # noqa: SLF001
                seen = generations._seen.get(key)  # noqa: SLF001
                if seen is not None and now - seen[0] < generations.MAX_AGE:
                    return seen[1]
            value = int(session.execute(text("SELECT value FROM cachegeneration WHERE name = :n"),
                                        {"n": generations.SCRIPTS}).scalar() or 0)
            with generations._lock:  # noqa: SLF001
                generations._seen[key] = (now, value)  # noqa: SLF001
            return value

        service._bank_generation = via_session  # noqa: SLF001
    encoded = [0]
    encode_query = getattr(embedder.encoder, "encode_query", None)
    if encode_query is not None:  # count query-cache misses
        def counted(query: str) -> Any:
            encoded[0] += 1
            return encode_query(query)

        embedder.encoder.encode_query = counted  # type: ignore[method-assign]
    print(json.dumps({"ready": first}), flush=True)
    sys.stdin.readline()  # the parent says go when every replica is ready

    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []
    marks: dict[str, float] = {}
    step = max(1, len(pool) // max(threads, 1))

    def session_loop(i: int) -> None:
        user = users[i]
        k = (i * step + offset) % len(pool)
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            query = pool[k % len(pool)]
            k += 1
            try:
                with Session(engine, expire_on_commit=False) as session:
                    service.lookup_scripts(session=session, actor=user, query=query, embedder=embedder,
                                           semantic_weight=weight)
            except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            done = time.perf_counter()
            if now >= measure_from and done <= stop_at:
                latencies[i].append(1000 * (done - now))

    def cpu_marks() -> None:
        time.sleep(max(0.0, measure_from - time.perf_counter()))
        marks["cpu0"], marks["load0"] = time.process_time(), os.getloadavg()[0]
        time.sleep(max(0.0, stop_at - time.perf_counter()))
        marks["cpu1"], marks["load1"] = time.process_time(), os.getloadavg()[0]

    workers = [threading.Thread(target=session_loop, args=(i,)) for i in range(len(users))]
    workers.append(threading.Thread(target=cpu_marks))
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    flat = [x for lat in latencies for x in lat]
    print(json.dumps({"latencies": flat, "cpu": marks["cpu1"] - marks["cpu0"], "seconds": seconds,
                      "errors": len(errors), "error_sample": errors[:3], "sessions": len(users),
                      "encoded": encoded[0],
                      "load": [marks["load0"], marks["load1"]]}), flush=True)


def run_config(script: Path, url: str, env: dict[str, str], sessions: int, replicas: int, args: Any,
               pool_file: Path) -> dict[str, Any]:
    """Start ``replicas`` processes sharing ``sessions`` sessions, run them together, merge."""
    per = [sessions // replicas + (1 if r < sessions % replicas else 0) for r in range(replicas)]
    procs, offsets = [], np.cumsum([0, *per[:-1]])
    for r in range(replicas):
        cmd = [sys.executable, str(script), "--replica-child", url, str(per[r]), str(args.warmup),
               str(args.seconds), str(pool_file), str(int(offsets[r])), args.signature]
        procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env))
    ready = []
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline()
        if not line:
            raise SystemExit(f"a replica died before it was ready (exit {p.wait()})")
        ready.append(json.loads(line)["ready"])
    load_before = _loads()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        assert p.stdout is not None
        results.append(json.loads(p.stdout.readline()))
        p.wait()
    latencies = [x for r in results for x in r["latencies"]]
    count = len(latencies)
    return {"sessions": sessions, "replicas": replicas, "count": count,
            "per_s": count / args.seconds,
            "ms": np.percentile(latencies, [50, 95, 99]).tolist() if count else [],
            "cpu_ms": 1000 * sum(r["cpu"] for r in results) / max(count, 1),
            "errors": sum(r["errors"] for r in results),
            "encoded": sum(r["encoded"] for r in results),
            "error_sample": [e for r in results for e in r["error_sample"]][:3],
            "ready": ready, "load_before": load_before, "load_after": _loads()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--database-url", default=DEFAULT_URL)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--sessions", default="20,50,100")
    ap.add_argument("--replicas", default="1,2")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--generation-read", dest="signature", choices=("as-is", "session"), default="as-is",
                    help="session: the bank's change counter read through the request's session instead "
                         "of a second pooled connection (see replica_child)")
    ap.add_argument("--replica-child", nargs=7, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.replica_child:
        url, threads, warmup, seconds, pool_file, offset, signature = args.replica_child
        replica_child(url, int(threads), float(warmup), float(seconds), pool_file, int(offset), signature)
        return 0

    from training.core.config import get_settings

    real_cache = get_settings().cache_dir
    data_dir = bench_data_dir(args.database_url)
    prepare_data_dir(real_cache, data_dir)
    env = {**os.environ, "HUASHU_DATA_DIR": str(data_dir), "HUASHU_DATABASE_URL": args.database_url,
           "HUASHU_JOB_WORKER": "external"}
    env.pop("HUASHU_MODEL", None)
    env.pop("HUASHU_ENCODER_BACKEND", None)
    scripts, fill_s = fill_database(args.database_url, args.size)
    pool = query_pool(args.size)
    pool_file = data_dir / "queries.json"
    pool_file.write_text(json.dumps(pool, ensure_ascii=False), encoding="utf-8")
    log(f"[lookup_load] {scripts} scripts (written in {fill_s:.0f} s), {len(pool)} distinct queries; "
        f"building the app's index once …")
    script = Path(__file__).resolve()
    prep = run_config(script, args.database_url, env, 1, 1,
                      argparse.Namespace(warmup=0.0, seconds=1.0, signature=args.signature), pool_file)
    log(f"[lookup_load] index ready: first process {prep['ready'][0]['ready']:.1f} s")
    rows, runs = [], []
    for sessions in [int(s) for s in args.sessions.split(",")]:
        for replicas in [int(r) for r in args.replicas.split(",")]:
            log(f"[lookup_load] {sessions} sessions on {replicas} replica(s) …")
            r = run_config(script, args.database_url, env, sessions, replicas, args, pool_file)
            runs.append(r)
            ms = r["ms"] or [float("nan")] * 3
            rows.append([str(sessions), str(replicas), f"{r['per_s']:.1f}", f"{r['encoded']}",
                         f"{ms[0]:.0f}", f"{ms[1]:.0f}",
                         f"{ms[2]:.0f}", f"{r['cpu_ms']:.1f}", str(r["errors"]),
                         " / ".join(f"{x['ready']:.1f}" for x in r["ready"]),
                         f"{r['load_before']} → {r['load_after']}"])
            log(f"[lookup_load]   {rows[-1]}")
    print(f"## Lookup load: {scripts:,} approved scripts, service layer, "
          f"{args.database_url.split('@')[-1]}\n")
    print(f"Bank counter read: {args.signature}; {args.warmup:.0f} s warm-up, {args.seconds:.0f} s measured "
          f"per row; closed loop (no think time). Load averages 1/5/15 min before → after each row.\n")
    print(markdown_table(["sessions", "replicas", "lookups/s", "query encodings (whole run, warm-up incl.)",
                          "p50 ms", "p95 ms", "p99 ms",
                          "CPU ms / lookup (app processes)", "errors", "first lookup s (per replica)",
                          "load"], rows) + "\n")
    for r in runs:
        if r["errors"]:
            print(f"- {r['sessions']}×{r['replicas']}: errors such as {r['error_sample']}")
    print("\nFirst lookup of a fresh replica process (imports / encoder / bank from the DB + index + "
          "first lookup), s: " + "; ".join(
              f"{x['imports']:.1f} / {x['encoder']:.1f} / {x['first_lookup']:.1f} (CPU {x['ready_cpu']:.1f})"
              for r in runs[:2] for x in r["ready"]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
