"""SQLModel tables for the whole Huashu domain (schema changes go through Alembic)."""

from training.models.accounts import Cohort, User, UserBase, UserPublic
from training.models.base import ROLE_LABELS, Category, Role, utcnow
from training.models.chats import ChatImport, ChatMessage, KnowledgeItem, MinedQuestion
from training.models.exams import (
    Answer,
    Attempt,
    Certificate,
    Certification,
    CertificationPaper,
    ExamAssignment,
    ExamItem,
    ExamPaper,
    Review,
)
from training.models.infra import AuditLog, EmbeddingCache
from training.models.scripts import Script, ScriptVersion

__all__ = [
    "ROLE_LABELS",
    "Answer",
    "Attempt",
    "AuditLog",
    "Category",
    "Certificate",
    "Certification",
    "CertificationPaper",
    "ChatImport",
    "ChatMessage",
    "Cohort",
    "EmbeddingCache",
    "ExamAssignment",
    "ExamItem",
    "ExamPaper",
    "KnowledgeItem",
    "MinedQuestion",
    "Review",
    "Role",
    "Script",
    "ScriptVersion",
    "User",
    "UserBase",
    "UserPublic",
    "utcnow",
]
