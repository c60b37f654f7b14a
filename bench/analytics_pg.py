"""Analytics on a large PostgreSQL database: 1,000 agents × 100 exams, page query times (issue #9).

Seeds an empty PostgreSQL database (migrated with ``training.core.migrate.upgrade_database``) through
``COPY``: agents in cohorts, 100 published papers of 20 items (10 scenario, 10 objective), one
released attempt per agent and paper (100k attempts, 2M answers with scores and typing speed),
double reviews on part of the scenario answers, certification programmes and certificates, mined
questions, a 2,000-script bank with versions and feedback, and 200k lookups over 90 days
(``bench/analytics_pg_data.py`` makes the rows). Then times every aggregation in
``training.analytics.dashboards.QUERIES`` and ``scripts_bank.analytics.QUERIES`` (plus the Python reports of
``scripts_bank.usage`` for reference) as a trainer: median and max ms of ``--runs`` runs.

``--index "CREATE INDEX …"`` (repeatable) times everything again after creating those indexes,
prints before/after, and drops them again (unless ``--keep-indexes``). ``--save times.json`` keeps
the timings; ``--baseline times.json`` prints them beside this run's (e.g. run this script from a
checkout of the old code with ``--save``, then from the new one with ``--baseline``).

    python bench/analytics_pg.py --url postgresql+psycopg2://postgres@127.0.0.1:55433/bench_analytics
        [--reset | --reuse] [--agents 1000] [--papers 100] [--lookups 200000] [--runs 5]
        [--save times.json] [--baseline times.json]

Without ``--url`` or ``HUASHU_BENCH_PG_URL`` it refuses to run (exit 0: skipped, for run_all).
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/analytics_pg.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from bench.analytics_pg_data import Shape, tables  # noqa: E402
from training.core.db import make_engine  # noqa: E402
from training.core.migrate import upgrade_database  # noqa: E402
from training.models import Role, User  # noqa: E402

SLOW_MS = 500.0
#: Tables keyed by other columns (no id sequence to move on after COPY).
NO_SERIAL_ID = {"certificationpaper", "sittingfigure", "itemfigure", "itemdayfigure"}
QUERY_MODULES = ("training.analytics.dashboards", "scripts_bank.analytics")


def log(msg: str) -> None:
    """Progress on stderr (stdout carries the figures)."""
    print(msg, file=sys.stderr, flush=True)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _cell(value: object) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def copy_rows(engine: Engine, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]],
              batch: int = 200_000) -> int:
    """COPY ``rows`` into ``table`` (text format; the generated texts hold no tab, newline or backslash)."""
    raw = engine.raw_connection()
    count = 0
    try:
        cursor = raw.cursor()
        statement = f'COPY "{table}" ({", ".join(columns)}) FROM STDIN'
        buffer = io.StringIO()
        pending = 0
        for row in rows:
            buffer.write("\t".join(map(_cell, row)) + "\n")
            pending += 1
            if pending == batch:
                buffer.seek(0)
                cursor.copy_expert(statement, buffer)
                count, pending, buffer = count + pending, 0, io.StringIO()
        if pending:
            buffer.seek(0)
            cursor.copy_expert(statement, buffer)
            count += pending
        raw.commit()
    finally:
        raw.close()
    return count


def seed(engine: Engine, shape: Shape) -> list[tuple[str, int, float]]:
    """Fill every table; returns (table, rows, seconds) in seeding order."""
    timings = []
    for table, columns, rows in tables(shape):
        t0 = time.perf_counter()
        n = copy_rows(engine, table, columns, rows)
        timings.append((table, n, time.perf_counter() - t0))
        log(f"  {table}: {n:,} rows in {timings[-1][2]:.1f} s")
    with engine.begin() as conn:
        for table, *_ in timings:
            if table not in NO_SERIAL_ID:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                  f"(SELECT max(id) FROM \"{table}\"))"))
    return timings


def vacuum_analyze(engine: Engine) -> float:
    t0 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - t0


def load_queries() -> tuple[dict[str, Callable[[Session, User], object]], list[str]]:
    """Every aggregation to time, and notes about modules that could not be imported."""
    queries: dict[str, Callable[[Session, User], object]] = {}
    notes = []
    for name in QUERY_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            notes.append(f"{name} is missing ({exc}); its queries were not timed.")
            continue
        queries.update(module.QUERIES)
    from scripts_bank import usage

    queries["话术库 usage.usage_report"] = lambda s, u: usage.usage_report(session=s, actor=u)
    queries["话术库 usage.weak_lookups"] = lambda s, u: usage.weak_lookups(session=s, actor=u)
    return queries, notes


def time_queries(engine: Engine, queries: dict[str, Callable[[Session, User], object]], runs: int,
                 ) -> dict[str, tuple[float, float, int]]:
    """Per query: median ms, max ms and result size over ``runs`` runs (fresh session each run)."""
    with Session(engine) as session:
        trainer = session.exec(select(User).where(User.role == Role.TRAINER.value)).first()
    assert trainer is not None
    results = {}
    for name, query in queries.items():
        times, size = [], 0
        for _ in range(runs):
            with Session(engine, expire_on_commit=False) as session:
                t0 = time.perf_counter()
                found = query(session, trainer)
                times.append((time.perf_counter() - t0) * 1000)
            size = len(found) if isinstance(found, Sequence) else 1
        results[name] = (statistics.median(times), max(times), size)
        log(f"  {name}: median {results[name][0]:.0f} ms, max {results[name][1]:.0f} ms")
    return results


def db_size(engine: Engine) -> tuple[str, list[tuple[str, str]]]:
    with engine.connect() as conn:
        total = conn.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar_one()
        biggest = conn.execute(text(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(relid)) "
            "FROM pg_catalog.pg_statio_user_tables ORDER BY pg_total_relation_size(relid) DESC LIMIT 6")
        ).all()
    return str(total), [(str(a), str(b)) for a, b in biggest]


def _has_data(engine: Engine) -> bool:
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT to_regclass('public.\"user\"') IS NOT NULL")).scalar_one()
        return bool(exists) and bool(conn.execute(text('SELECT count(*) FROM "user"')).scalar_one())


def print_against(baseline: dict[str, list[float]], now: dict[str, tuple[float, float, int]]) -> None:
    """Saved timings (before) beside this run's (after), per query; rows must agree."""
    def ms(times: Sequence[float] | None, i: int) -> str:
        return "–" if times is None else f"{times[i]:.0f}"

    print(markdown_table(
        ["query", "rows before", "rows after", "median ms before", "median ms after", "max ms before",
         "max ms after"],
        [[n, ms(baseline.get(n), 2), ms(t, 2), ms(baseline.get(n), 0), ms(t, 0), ms(baseline.get(n), 1),
          ms(t, 1)] for n, t in now.items()]))
    slow = [n for n, (m, _, _) in now.items() if m > SLOW_MS]
    print(f"\nOver {SLOW_MS:.0f} ms (median) after: {', '.join(slow) or 'none'}.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("HUASHU_BENCH_PG_URL"),
                    help="PostgreSQL URL (default: $HUASHU_BENCH_PG_URL)")
    ap.add_argument("--reset", action="store_true", help="drop everything in the database first")
    ap.add_argument("--reuse", action="store_true", help="time an already seeded database")
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--papers", type=int, default=100)
    ap.add_argument("--lookups", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--index", action="append", default=[], help="CREATE INDEX statement to try")
    ap.add_argument("--keep-indexes", action="store_true")
    ap.add_argument("--save", type=Path, help="write this run's timings to a JSON file")
    ap.add_argument("--baseline", type=Path, help="print timings saved by --save beside this run's")
    for ignored in ("--max-pairs", "--model", "--cache"):  # passed by bench/run_all.py
        ap.add_argument(ignored, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    print("## Analytics on a large PostgreSQL database\n")
    if not args.url:
        print("Skipped: no PostgreSQL URL (pass --url or set HUASHU_BENCH_PG_URL).")
        return 0
    if make_url(args.url).get_backend_name() != "postgresql":
        print(f"Refused: {make_url(args.url).render_as_string()} is not a PostgreSQL URL.")
        return 2
    engine = make_engine(args.url)
    if args.reset:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    if not args.reuse:
        if _has_data(engine):
            print("Refused: the database already holds users; pass --reset (drops everything) or --reuse.")
            return 2
        shape = Shape(agents=args.agents, papers=args.papers, lookups=args.lookups)
        t0 = time.perf_counter()
        upgrade_database(args.url)
        migrate_s = time.perf_counter() - t0
        log("seeding …")
        timings = seed(engine, shape)
        analyze_s = vacuum_analyze(engine)
        total = time.perf_counter() - t0
        copy_s = sum(t for *_, t in timings)
        print(f"Seeded in **{total:.0f} s** (migrate {migrate_s:.1f} s, COPY {copy_s:.0f} s,"
              f" VACUUM ANALYZE {analyze_s:.0f} s):\n")
        print(markdown_table(["table", "rows", "s"], [[t, f"{n:,}", f"{s:.1f}"] for t, n, s in timings]))
    size, biggest = db_size(engine)
    print(f"\nDatabase size **{size}**; largest tables: "
          + ", ".join(f"{name} {pretty}" for name, pretty in biggest) + "\n")
    queries, notes = load_queries()
    for note in notes:
        print(f"- {note}\n")
    log("timing …")
    before = time_queries(engine, queries, args.runs)
    if args.save:
        args.save.write_text(json.dumps(before, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.baseline:
        print_against(json.loads(args.baseline.read_text(encoding="utf-8")), before)
        return 0
    header = ["query", "rows", "median ms", "max ms"]
    if not args.index:
        rows = [[n, str(z), f"{m:.0f}", f"{x:.0f}"] for n, (m, x, z) in before.items()]
        print(markdown_table(header, rows))
        slow = [n for n, (m, _, _) in before.items() if m > SLOW_MS]
        print(f"\nOver {SLOW_MS:.0f} ms (median): {', '.join(slow) or 'none'}.")
        return 0
    with engine.begin() as conn:
        for statement in args.index:
            log(f"  {statement}")
            conn.execute(text(statement))
    vacuum_analyze(engine)
    after = time_queries(engine, queries, args.runs)
    print("Indexes tried:\n\n" + "\n".join(f"- `{s}`" for s in args.index) + "\n")
    print(markdown_table(["query", "median ms before", "max ms before", "median ms after", "max ms after"],
                         [[n, f"{before[n][0]:.0f}", f"{before[n][1]:.0f}", f"{after[n][0]:.0f}",
                           f"{after[n][1]:.0f}"] for n in before]))
    if not args.keep_indexes:
        with engine.begin() as conn:
            for statement in args.index:
                name = statement.split(" ON ")[0].split()[-1]
                conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
