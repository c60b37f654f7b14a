"""``huashu worker``: run the durable jobs (release, mining, training, re-embedding) of the database."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType


def cmd_worker(args: argparse.Namespace) -> None:
    """Claim and run jobs until stopped (SIGTERM/SIGINT end it after the job in hand)."""
    import scripts_bank.jobs  # noqa: F401 - registers the handlers
    from training.core.db import get_engine
    from training.ops import worker

    stop = threading.Event()

    def ask_to_stop(signum: int, _frame: FrameType | None) -> None:
        print(f"huashu worker: 收到停止信号（{signal.Signals(signum).name}），完成手上的任务后退出。",
              file=sys.stderr)
        stop.set()

    signal.signal(signal.SIGTERM, ask_to_stop)
    signal.signal(signal.SIGINT, ask_to_stop)
    name = worker.worker_name()
    print(f"huashu worker {name}：开始处理任务（每 {args.poll:g} 秒查看一次队列）。",
          file=sys.stderr, flush=True)
    ran = worker.work(get_engine(), stop=stop, poll_seconds=args.poll, once=args.once, name=name)
    print(f"huashu worker {name}：已退出，共处理 {ran} 个任务。", file=sys.stderr)


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``worker`` on the ``huashu`` parser."""
    worker = sub.add_parser("worker", help="处理后台任务（发布成绩、挖掘问题、训练模型、重建索引）",
                            description="从配置的数据库中领取排队的任务并执行；可在多台机器上各运行一个。"
                                        "进程意外退出时，它手上的任务会在租约到期后由其他工作进程重新执行。")
    worker.add_argument("--poll", type=float, default=1.0, help="队列为空时每隔几秒查看一次（默认 1）")
    worker.add_argument("--once", action="store_true", help="处理完当前排队的任务就退出")
    worker.set_defaults(func=cmd_worker)
