"""The encoder command: adapt (fine-tune on the database's own data, as a trainer or admin)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.auth.permissions import PermissionDenied
from training.core.errors import UserError
from training.core.jsonl import InputError


def cmd_adapt(args: argparse.Namespace) -> None:
    """Fine-tune the app's encoder on the database's own data as a trainer or admin."""
    from sqlmodel import select

    from training.core.db import get_engine, session_scope
    from training.models import User
    from training.nlp.adapt.adapter import AdapterConfig
    from training.nlp.adapt.finetune import TrainConfig
    from training.nlp.model_versions import activate_version
    from training.ops.adapt_platform import adapt_from_platform

    where = Path(f"--as {args.as_user}")
    with session_scope(get_engine()) as session:
        actor = session.exec(select(User).where(User.username == args.as_user)).first()
        if actor is None:
            raise InputError(where, None, f"用户「{args.as_user}」不存在（--as）")
        try:
            config = TrainConfig() if getattr(args, "method", "adapter") == "full" else AdapterConfig()
            version = adapt_from_platform(session=session, actor=actor, base_model=args.model,
                                          budget_seconds=args.budget_minutes * 60, config=config)
            if args.activate:
                activate_version(session=session, actor=actor, version_id=version.id)
        except (UserError, PermissionDenied) as exc:
            raise InputError(where, None, str(exc)) from exc
        report = version.report or {}
    print(json.dumps({"version": version.name, "path": version.path, "active": bool(args.activate),
                      "method": report.get("method", "full"), "before": report.get("before"),
                      "after": report.get("after"), "training": report.get("training"),
                      "sources": report.get("sources"), "fusion": report.get("fusion")},
                     ensure_ascii=False))
