"""The audit log in words: each action code and detail field as an administrator reads it.

The log stores codes (``user.reset_password``) and JSON details; these tables turn them into
Chinese for the viewer and its CSV export. An action or field missing here shows as stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from training.core.clock import fmt_datetime
from training.models import ROLE_LABELS, Role
from training.nlp.model_versions import SHIPPED_NAME

ACTION_LABELS: dict[str, str] = {
    "answer.review": "评阅回答",
    "answer.review_change": "修改评分",
    "attempt.auto_submit": "到时自动交卷",
    "attempt.start": "开始考试",
    "attempt.submit": "交卷",
    "audit.export": "导出审计日志",
    "certificate.flag": "证书标记为需重新认证",
    "certificate.issue": "颁发证书",
    "certification.create": "新建认证项目",
    "chat.import": "导入聊天记录",
    "cohort.create": "新建班组",
    "demo.seed": "载入演示数据",
    "drill.create": "新建模拟接待",
    "drill.publish": "发布模拟接待",
    "drill.update": "修改模拟接待",
    "demo.seed_history": "载入演示历史数据",
    "encoder.activate": "切换模型",
    "encoder.register": "保存新模型版本",
    "knowledge.create": "新建知识题",
    "knowledge.import": "导入知识题",
    "knowledge.restore": "恢复知识题",
    "knowledge.retire": "停用知识题",
    "knowledge.update": "修改知识题",
    "lint.save": "保存扣分短语",
    "login": "登录",
    "login.locked": "登录被锁定",
    "paper.add": "试卷加入题目",
    "paper.add_random": "试卷加入随机题",
    "paper.create": "新建试卷",
    "paper.export": "导出试卷",
    "paper.publish": "发布试卷",
    "paper.remove": "试卷移除题目",
    "practice.answer": "错题练习",
    "questions.bulk_update": "批量修改问题",
    "questions.export": "导出题目（其他考试系统格式）",
    "questions.import": "导入题目（其他考试系统格式）",
    "questions.merge": "合并问题",
    "questions.mine": "挖掘问题",
    "questions.mine_undone": "撤销问题挖掘",
    "questions.split": "拆分问题",
    "questions.update": "修改问题",
    "results.release": "发布成绩",
    "retake.grant": "允许补考",
    "rubric.save": "保存评分表",
    "script.approve": "审定话术",
    "script.archive": "停用话术",
    "script.correct": "更正话术的问题、分类或变体",
    "script.create": "新建话术",
    "script.details": "修改话术分类与标签",
    "script.draft": "起草话术新版本",
    "script.restore": "恢复话术",
    "scripts.export": "导出话术库",
    "scripts.import": "导入话术",
    "user.assign_cohort": "分配班组",
    "user.bulk_create": "批量创建用户",
    "user.change_password": "修改自己的密码",
    "user.create": "新建用户",
    "user.create_admin": "创建初始管理员",
    "user.disable": "停用用户",
    "user.enable": "启用用户",
    "user.reset_password": "重置密码",
    "user.set_role": "修改角色",
}

#: What a numeric target is, by the action's family (``paper.publish`` → 试卷 #12).
TARGET_KINDS: dict[str, str] = {
    "answer": "回答", "attempt": "答卷", "certificate": "证书", "certification": "认证项目",
    "drill": "模拟接待", "knowledge": "知识题", "paper": "试卷", "questions": "问题", "results": "试卷",
    "retake": "补考安排",
    "rubric": "评分表",
    "script": "话术",
}

FIELD_LABELS: dict[str, str] = {
    "action": "筛选的操作", "actor_id": "筛选的操作人编号", "added": "加入题数", "approved": "直接审定",
    "assignment": "考试安排编号", "attempts": "答卷数", "auto_fail": "一票否决项", "category": "分类",
    "certificates": "证书数", "certification": "认证项目编号",
    "clusters": "问题数", "cohort_id": "班组编号", "cohorts": "发布给班组", "count": "数量",
    "criteria": "评分项", "format": "文件格式", "hidden": "隐藏", "import_id": "导入编号",
    "in_bank": "入题库", "kind": "题型", "knowledge_item": "知识题编号", "knowledge_items": "知识题数",
    "masked": "已遮盖的个人信息", "merged": "并入的问题编号", "messages": "消息数", "name": "名称",
    "new": "新问题编号", "now": "切换后", "number": "第几次", "papers": "试卷编号", "path": "保存位置",
    "penalty": "扣分", "active": "启用", "practice": "练习数", "previous": "原值", "product": "商品",
    "replaces": "替换的证书编号", "reviews": "评阅数", "role": "角色", "rows": "行数",
    "rubric": "评分表打分", "score": "评分", "script": "话术编号", "scripts": "话术数",
    "sessions": "会话数", "sha256": "文件指纹", "since": "起始时间", "sources": "来源回答编号",
    "tags": "标签", "truncated": "截断的消息数", "until": "截止时间", "user": "用户编号",
    "users": "用户数", "version": "版本",
    "items": "知识题数", "scenarios": "情景题数", "existing": "已在题库而跳过", "repeated": "文件内重复",
    "skipped": "不支持而跳过",
    "question": "顾客问题", "variant": "变体名", "previous_question": "原问题", "previous_category": "原分类",
    "previous_variant": "原变体名", "visible": "客服可查到",
    "paper": "试卷编号", "days": "有效天数",
}

#: Field labels that depend on the action (``previous`` is a role, a score or a model).
ACTION_FIELD_LABELS: dict[tuple[str, str], str] = {
    ("user.set_role", "previous"): "原角色",
    ("answer.review", "previous"): "原评分",
    ("answer.review_change", "previous"): "原评分",
    ("certificate.flag", "certificates"): "涉及的证书编号",
    ("script.approve", "previous"): "原审定版本",
    ("encoder.activate", "previous"): "切换前",
    ("questions.mine", "clusters"): "新问题数",
    ("questions.mine", "joined"): "并入已有问题数",
    ("questions.mine", "questions"): "提问次数",
}

KIND_LABELS = {"scenario": "情景题", "objective": "知识题"}
YES, NO, NONE = "是", "否", "无"


def _role(value: Any) -> str:
    try:
        return ROLE_LABELS[Role(str(value))]
    except ValueError:
        return str(value)


def _percent(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) and not isinstance(value, bool) else _plain(value)


def _time(value: Any) -> str:
    try:
        return fmt_datetime(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def _action_filter(value: Any) -> str:
    return ACTION_LABELS.get(str(value), str(value))


def _model(value: Any) -> str:
    return SHIPPED_NAME if value in ("内置模型（multilingual-e5-small）", SHIPPED_NAME) else str(value)


def _short(value: Any) -> str:
    return str(value)[:12]


#: How a field's value reads, when not as is (``role`` is 培训师, not trainer).
VALUE_FORMATS: dict[str, Callable[[Any], str]] = {
    "role": _role, "score": _percent, "since": _time, "until": _time, "action": _action_filter,
    "now": _model, "sha256": _short, "kind": lambda v: KIND_LABELS.get(str(v), str(v)),
}
ACTION_VALUE_FORMATS: dict[tuple[str, str], Callable[[Any], str]] = {
    ("user.set_role", "previous"): _role,
    ("answer.review_change", "previous"): _percent,
    ("encoder.activate", "previous"): _model,
}


def _plain(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return YES if value else NO
    if isinstance(value, float):
        return f"{round(value, 2) + 0.0:g}"
    if isinstance(value, list | tuple):
        return "、".join(_plain(v) for v in value) or NONE
    if isinstance(value, dict):
        return "，".join(f"{k} {_plain(v)}" for k, v in value.items()) or NONE
    return str(value)


def action_label(action: str) -> str:
    """The action in Chinese (an unknown code as stored)."""
    return ACTION_LABELS.get(action, action)


def target_text(action: str, target: str) -> str:
    """What the action was done to: ``试卷 #12`` for a numeric id, the model's name, or as stored."""
    if target.startswith("encoder:"):
        version = target.removeprefix("encoder:")
        return SHIPPED_NAME if version == "shipped" else f"模型版本 #{version}"
    kind = TARGET_KINDS.get(action.split(".", 1)[0])
    return f"{kind} #{target}" if kind and target.isdigit() else target


def detail_text(action: str, detail: dict[str, Any]) -> str:
    """The details as 「字段：值」 pairs in Chinese, one after another."""
    parts = []
    for key, value in detail.items():
        label = ACTION_FIELD_LABELS.get((action, key)) or FIELD_LABELS.get(key, key)
        fmt = ACTION_VALUE_FORMATS.get((action, key)) or VALUE_FORMATS.get(key, _plain)
        parts.append(f"{label}：{fmt(value) if value is not None else NONE}")
    return "；".join(parts)
