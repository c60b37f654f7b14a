"""SQLModel tables for the whole Huashu domain (schema changes go through Alembic)."""

from training.models.accounts import Cohort, LoginSession, User, UserBase, UserPublic
from training.models.base import ROLE_LABELS, Category, Role, utcnow
from training.models.chats import ChatImport, ChatMessage, KnowledgeItem, MinedQuestion, QuestionFrequency
from training.models.exams import (
    Answer,
    Attempt,
    AttemptStatus,
    Certificate,
    Certification,
    CertificationPaper,
    ExamAssignment,
    ExamItem,
    ExamPaper,
    ExamState,
    Review,
    Rubric,
)
from training.models.infra import AuditLog, CacheGeneration, EmbeddingCache, EncoderVersion, Job
from training.models.scripts import LintPhrase, LookupLog, Script, ScriptFeedback, ScriptVersion

__all__ = [
    "ROLE_LABELS",
    "Answer",
    "Attempt",
    "AttemptStatus",
    "AuditLog",
    "CacheGeneration",
    "Category",
    "Certificate",
    "Certification",
    "CertificationPaper",
    "ChatImport",
    "ChatMessage",
    "Cohort",
    "EmbeddingCache",
    "EncoderVersion",
    "ExamAssignment",
    "ExamItem",
    "ExamPaper",
    "ExamState",
    "Job",
    "KnowledgeItem",
    "LintPhrase",
    "LoginSession",
    "LookupLog",
    "MinedQuestion",
    "QuestionFrequency",
    "Review",
    "Rubric",
    "Role",
    "Script",
    "ScriptFeedback",
    "ScriptVersion",
    "User",
    "UserBase",
    "UserPublic",
    "utcnow",
]
