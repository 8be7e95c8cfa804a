"""Reading one cell of a spreadsheet: its text to the value a command field takes. A reader raises
``ValueError`` saying in words what is wrong, never quoting the cell (it may be personal)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from enum import StrEnum
from uuid import UUID

from ledger.domain.values import (
    AdjustmentReason,
    CertificationMethod,
    FundingPurpose,
    FundingSource,
    ServiceType,
    StaffRole,
)


def text(cell: str) -> str:
    return cell


def integer(cell: str) -> int:
    if not (cell.isascii() and cell.isdigit()):
        raise ValueError("expected a whole number (ASCII digits)")
    return int(cell)


FLAGS = {"yes": True, "y": True, "true": True, "1": True, "是": True, "有": True,
         "no": False, "n": False, "false": False, "0": False, "否": False, "无": False}


def flag(cell: str) -> bool:
    found = FLAGS.get(cell.casefold())
    if found is None:
        raise ValueError("expected yes or no (是 / 否)")
    return found


_DAY = re.compile(r"([0-9]{4}) *[-/.年] *([0-9]{1,2}) *[-/.月] *([0-9]{1,2}) *日?(?:[T ]00:00(?::00)?)?")
_MONTH = re.compile(r"([0-9]{4}) *[-/.年] *([0-9]{1,2}) *月?")


def day(cell: str) -> str:
    """``YYYY-MM-DD`` (also ``2025/1/5``, ``2025.1.5``, ``2025年1月5日``) as ISO; the field judges the range."""
    found = _DAY.fullmatch(cell)
    if found is None:
        raise ValueError("expected a date written YYYY-MM-DD")
    try:
        return date(int(found[1]), int(found[2]), int(found[3])).isoformat()
    except ValueError:
        raise ValueError("no such date") from None


def month(cell: str) -> str:
    """``YYYY-MM`` (also ``2025/1``, ``2025年1月``, or the month's first day: Excel turns ``2025-01`` into a date)."""
    if (found := _MONTH.fullmatch(cell)) is None:
        whole = day(cell) if _DAY.fullmatch(cell) else None
        if whole is None or not whole.endswith("-01"):
            raise ValueError("expected a month written YYYY-MM")
        return whole[:7]
    if not 1 <= int(found[2]) <= 12:
        raise ValueError("no such month")
    return f"{int(found[1]):04d}-{int(found[2]):02d}"


def amount(cell: str) -> str:
    """An amount in CNY as written (``3060.00``); a thousands separator or a ``¥``/``元`` is dropped."""
    return cell.replace(",", "").removeprefix("¥").removeprefix("￥").removesuffix("元").strip()


def retiree_id(cell: str) -> UUID:
    try:
        value = UUID(cell.lower())
    except ValueError:
        raise ValueError("expected a retiree id (a UUID)") from None
    if str(value) != cell.lower():
        raise ValueError("expected a retiree id in canonical form (36 characters with dashes)")
    return value


def choice(kind: type[StrEnum], zh: Mapping[str, str]) -> Callable[[str], str]:
    """One of ``kind``'s values, written as the value (any case) or its Chinese label."""
    allowed = {member.value: member.value for member in kind} | dict(zh)

    def read(cell: str) -> str:
        found = allowed.get(cell.casefold()) or allowed.get(cell)
        if found is None:
            raise ValueError(f"must be one of {', '.join(member.value for member in kind)}")
        return found

    return read


METHODS = choice(CertificationMethod, {"现场认证": "in_person", "现场": "in_person", "上门认证": "home_visit",
                                       "上门": "home_visit", "人脸识别": "face_recognition",
                                       "数据比对": "data_matching"})
REASONS = choice(AdjustmentReason, {"年度调整": "annual_adjustment", "更正": "correction", "重新核定": "recalculation",
                                    "补发": "supplement"})
SERVICES = choice(ServiceType, {"上门探访": "home_visit", "健康检查": "health_check", "文化活动": "cultural_activity",
                                "政策咨询": "policy_consultation", "协助认证": "certification_assistance",
                                "困难帮扶": "hardship_relief", "应急救助": "emergency_assistance", "其他": "other"})
ROLES = choice(StaffRole, {"专职": "full_time", "兼职": "part_time", "志愿者": "volunteer"})
SOURCES = choice(FundingSource, {"市级财政": "city", "市级": "city", "区级财政": "district", "区级": "district",
                                 "省级财政": "province", "省级": "province", "福利彩票公益金": "lottery_welfare_fund",
                                 "彩票公益金": "lottery_welfare_fund", "其他": "other"})
PURPOSES = choice(FundingPurpose, {"人员经费": "staff", "场地": "premises", "场地设施": "premises",
                                   "活动经费": "activities", "健康体检": "health_checks", "其他": "other"})
