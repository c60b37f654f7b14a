"""The handlers of the durable jobs (``training.ops.jobs``): what a worker does for each kind.

Kinds: ``release`` (score and release a paper's results: the encoder embeds the answers),
``mine`` (mine an imported chat log into the question bank), ``adapt`` (train a new encoder
version on the shop's data), ``warm_up`` (re-embed the bank after a model switch). Each handler
loads the encoder the app currently uses, in the worker's process (once per model), and commits its
result in one transaction or is safe to run again: a job taken over after a crash starts over and
recognises work its earlier attempt already committed.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from scripts_bank.warmup import warm_up
from training.certification.certificates import evaluate_certificates
from training.core.config import get_settings
from training.exams.grading import GradingError, release_results
from training.mining.service import mine_import
from training.models import Attempt, ChatImport, ExamAssignment
from training.nlp.embeddings import DbEmbeddingStore, Embedder
from training.nlp.model_versions import active_model
from training.ops import jobs
from training.ops.adapt_platform import adapt_from_platform

RELEASE, MINE, ADAPT, WARM_UP = "release", "mine", "adapt", "warm_up"
LOADING = "正在加载语义模型（本进程第一次使用时约需半分钟到一分钟）"
#: What each kind is called on the pages.
KIND_NAMES = {RELEASE: "发布成绩", MINE: "挖掘顾客问题", ADAPT: "训练模型",
              WARM_UP: "用新模型重新整理检索索引"}


def _embedder(context: jobs.Context) -> Embedder:
    """The app's active encoder (loaded once per process) with the database embedding cache."""
    from training.nlp.encoder.load import load_encoder  # deferred: torch loads only in the worker

    with context.session() as session:
        model = active_model(session=session)
    return Embedder(load_encoder(model), DbEmbeddingStore(context.engine))


def _release(context: jobs.Context) -> dict[str, Any]:
    paper_id = int(context.params["paper_id"])
    context.progress(0.0, LOADING)
    embedder = _embedder(context)
    with context.session() as session:
        try:
            released = release_results(
                session=session, actor=context.actor(session), paper_id=paper_id, embedder=embedder,
                progress=lambda f: context.progress(0.05 + 0.9 * f, "正在计算系统评分"))
        except GradingError:
            if context.attempt == 1:
                raise
            released = 0  # the interrupted attempt had committed the release already
        if context.attempt > 1:  # certificates follow the release's commit: a crash in between
            users = session.exec(select(Attempt.user_id).join(ExamAssignment).where(
                ExamAssignment.paper_id == paper_id, col(Attempt.released_at).is_not(None))).all()
            for user_id in sorted(set(users)):
                evaluate_certificates(session=session, user_id=user_id)
    return {"released": released, "paper_id": paper_id}


def _mine(context: jobs.Context) -> dict[str, Any]:
    import_id = int(context.params["import_id"])
    with context.session() as session:
        done = session.get(ChatImport, import_id)
        if context.attempt > 1 and done is not None and done.question_count:
            return {"import_id": import_id, "question_count": done.question_count, "new_count": None,
                    "joined_count": None}
    context.progress(0.0, LOADING)
    embedder = _embedder(context)
    with context.session() as session:
        outcome = mine_import(session=session, actor=context.actor(session), import_id=import_id,
                              embedder=embedder,
                              progress=lambda f: context.progress(f, "正在提取问题、计算语义相似度并聚类"))
    return {"import_id": import_id, "question_count": outcome.question_count, "new_count": outcome.new_count,
            "joined_count": outcome.joined_count}


def _adapt(context: jobs.Context) -> dict[str, Any]:
    with context.session() as session:
        version = adapt_from_platform(session=session, actor=context.actor(session),
                                      budget_seconds=float(context.params.get("budget_seconds", 1200)),
                                      progress=context.progress)
    return {"version": version.name, "version_id": version.id}


def _warm_up(context: jobs.Context) -> dict[str, Any]:
    context.progress(0.0, LOADING)
    embedder = _embedder(context)
    with context.session() as session:
        report = warm_up(session=session, actor=context.actor(session), embedder=embedder,
                         semantic_weight=get_settings().lookup_semantic_weight, progress=context.progress)
    return {"model_id": report.model_id, "texts": report.texts, "clusters": report.clusters,
            "scripts": report.scripts, "covered": report.covered}


for _kind, _handler in ((RELEASE, _release), (MINE, _mine), (ADAPT, _adapt), (WARM_UP, _warm_up)):
    jobs.register(_kind, _handler)
