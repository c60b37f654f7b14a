"""Memory of the real app with the encoder loaded: RSS of the ``streamlit run app.py`` process.

Per encoder backend: bootstraps the demo data into a temp data dir (the model folder and its ONNX
export are shared with the normal cache through a symlink, prepared first in their own process),
starts ``streamlit run app.py`` headless on a free loopback port with
``HUASHU_ENCODER_BACKEND=<backend>``, and drives it with Playwright and Debian's Chromium: the demo
agent logs in, opens 话术查询 and looks up several customer questions (the first lookup loads the
encoder and embeds the script bank). ``VmRSS`` / ``VmHWM`` of the server process come from
``/proc/<pid>/status`` after start-up, after the first lookup and after the last one.

    python bench/memory.py [--backends torch,onnx,onnx-int8] [--queries 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/memory.py`
    _ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT / "bench"]
    sys.path.insert(0, str(_ROOT))

from bench.datasets import REPO_ROOT, fmt, load_average, log, markdown_table  # noqa: E402

BACKENDS = ("torch", "onnx", "onnx-int8")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
AGENT = ("agent", "agent-demo-2026")  # documented demo account (training/ops/demo/seed.py)
QUERIES = ["地址填错了能改吗", "什么时候发货", "可以开发票吗", "退款多久到账", "快递能指定顺丰吗",
           "尺码偏大还是偏小", "有没有优惠券", "商品有破损怎么办"]
BUDGET_MB = 1536


def proc_status_mb(pid: int) -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` of process ``pid`` in MB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(line.split()[1]) / 1024.0
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_models(backends: list[str]) -> Path:
    """Build the model folder (and ONNX export) in the normal cache; return its ``models`` dir."""
    from training.core.config import get_settings

    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, str(REPO_ROOT / "bench" / "backends.py"), "--worker", "prepare",
               "--out", out, "--backends", ",".join(backends)]
        subprocess.run(cmd, check=True, cwd=REPO_ROOT)
    return get_settings().cache_dir / "models"


def _wait_idle(page: Any, timeout_ms: int) -> None:
    """Wait until Streamlit's "running" status widget has gone (the script run finished)."""
    page.wait_for_timeout(500)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms
    )


def measure(backend: str, models: Path, queries: int, workdir: Path) -> dict[str, Any]:
    """Run the app on ``backend`` in ``workdir``, drive a lookup session, read its memory."""
    from playwright.sync_api import sync_playwright

    data = workdir / "data"
    (data / "cache").mkdir(parents=True)
    (data / "cache" / "models").symlink_to(models.resolve(), target_is_directory=True)
    env = {**os.environ, "HUASHU_DATA_DIR": str(data), "HUASHU_ENCODER_BACKEND": backend,
           "HUASHU_ADMIN_PASSWORD": "admin-bench-password"}
    env.pop("HUASHU_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "training.ops.bootstrap", "--demo"], cwd=REPO_ROOT, env=env,
                   check=True, capture_output=True)
    port = _free_port()
    res: dict[str, Any] = {"backend": backend}
    with (workdir / "streamlit.log").open("w") as logfile:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=REPO_ROOT, env=env, stdout=logfile, stderr=logfile,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            for _ in range(240):
                try:
                    urllib.request.urlopen(url + "_stcore/health", timeout=2)  # noqa: S310 - loopback
                    break
                except OSError:
                    time.sleep(0.5)
            else:
                raise RuntimeError("streamlit did not start: " + (workdir / "streamlit.log").read_text())
            res["started"] = proc_status_mb(proc.pid)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                     args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(60_000)
                page.goto(url, wait_until="networkidle")
                page.get_by_label("用户名").fill(AGENT[0])
                page.get_by_label("密码").fill(AGENT[1])
                page.get_by_role("button", name="登录").click()
                page.get_by_role("link", name="话术查询").click()
                box = page.get_by_label("顾客说了什么？")
                res["lookup_s"] = []
                for i, query in enumerate(QUERIES[:queries]):
                    t0 = time.perf_counter()
                    box.fill(query)
                    box.press("Enter")
                    _wait_idle(page, 600_000 if i == 0 else 120_000)
                    page.get_by_text("综合").first.wait_for()  # a result card was rendered
                    res["lookup_s"].append(time.perf_counter() - t0)
                    if i == 0:
                        res["first"] = proc_status_mb(proc.pid)
                res["last"] = proc_status_mb(proc.pid)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(30)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--queries", type=int, default=5, help=f"lookups per run (≤ {len(QUERIES)})")
    ap.add_argument("--max-pairs", default=None, help=argparse.SUPPRESS)  # run_all passes these
    ap.add_argument("--model", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cache", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    print("## App memory (streamlit run app.py)\n")
    if not Path(CHROMIUM).exists():
        print(f"skipped: {CHROMIUM} not found (Playwright drives Debian's Chromium)")
        return 0
    load0 = load_average()
    models = prepare_models(names)
    rows = []
    for name in names:
        log(f"[memory] {name} …")
        with tempfile.TemporaryDirectory(prefix="huashu-bench-memory-") as tmp:
            r = measure(name, models, args.queries, Path(tmp))
        rest = r["lookup_s"][1:]
        rows.append([
            name,
            f"{r['started']['VmRSS']:.0f}",
            f"{r['first']['VmRSS']:.0f}",
            fmt(r["lookup_s"][0], 1),
            f"{r['last']['VmRSS']:.0f}",
            fmt(sum(rest) / len(rest), 2) if rest else "",
            f"{r['last']['VmHWM']:.0f}",
            "yes" if r["last"]["VmHWM"] <= BUDGET_MB else "no",
        ])
    print(
        f"Demo data, agent account, {args.queries} lookups on 话术查询 (the first loads the encoder and "
        f"embeds the demo bank). Server process only (the browser is separate). 1-min load average "
        f"before: {load0}, after: {load_average()}. Budget: {BUDGET_MB} MB.\n"
    )
    print(markdown_table(
        ["backend", "RSS started MB", "RSS after 1st lookup MB", "1st lookup s",
         f"RSS after {args.queries} lookups MB", "later lookups s (mean, browser round trip)",
         "peak RSS (VmHWM) MB", "peak ≤ budget"],
        rows,
    ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
