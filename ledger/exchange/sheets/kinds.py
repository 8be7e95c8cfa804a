"""The kinds of list agencies exchange: their columns (English and Chinese headers) and the command a row
records (see ``ledger.exchange.sheets``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ledger import commands as c
from ledger.domain.values import AdjustmentReason
from ledger.errors import InvalidInputError
from ledger.exchange.sheets.cells import (
    METHODS,
    PURPOSES,
    REASONS,
    ROLES,
    SERVICES,
    SOURCES,
    amount,
    day,
    flag,
    integer,
    month,
    retiree_id,
    text,
)

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")


@dataclass(frozen=True)
class Column:
    """One column: ``name`` (the English header: the command field it fills, or an export-only ``info``
    figure), ``zh`` (the Chinese header), ``read`` (cell text to the value handed to the command; a
    ``ValueError`` says what is wrong in words, never quoting the cell)."""

    name: str
    zh: str
    read: Callable[[str], Any] = text
    required: bool = False
    personal: bool = False
    info: bool = False
    aliases: tuple[str, ...] = ()


RETIREE_ID = Column("retiree_id", "退休人员编号", retiree_id, aliases=("退休人员ID",))
ID_NUMBER = Column("id_number", "身份证号码", personal=True, aliases=("身份证号", "公民身份号码"))
CITY = Column("city", "城市", info=True, aliases=("市",))
COMMUNITY_INFO = Column("community", "社区编码", info=True, aliases=("社区",))
COMMUNITY = Column("community", "社区编码", required=True, aliases=("社区",))
STAFF_ID = Column("staff_id", "工作人员编号", required=True, aliases=("员工编号",))


@dataclass(frozen=True)
class Kind:
    """A kind of list: its columns (in the order exports write them), the command a row records (``command``:
    the fields read from the row to a command class, or None: nothing to record), defaults for blank cells,
    and which column a refusing rule points at (``blame``)."""

    name: str
    title: str
    columns: tuple[Column, ...]
    command: Callable[[Mapping[str, Any]], type | None]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    blame: Mapping[str, str] = field(default_factory=dict)
    owner: str = "community"
    """The column a refusal for access or an unknown stream points at when the kind is not by retiree."""

    @property
    def by_retiree(self) -> bool:
        return any(column.name == "retiree_id" for column in self.columns)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


def _always(kind: type) -> Callable[[Mapping[str, Any]], type | None]:
    return lambda values: kind


def _staff_command(values: Mapping[str, Any]) -> type | None:
    if "left_on" in values or "reason" in values:
        return c.RecordStaffLeft
    return c.JoinStaff if "name" in values else None


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("certifications", "Pension-eligibility certifications (认证结果)", (
        RETIREE_ID, ID_NUMBER, CITY, COMMUNITY_INFO, Column("year", "年度", integer, required=True),
        Column("certified", "已认证", info=True), Column("certified_on_recorded", "已记录认证日期", info=True),
        Column("method", "认证方式", METHODS), Column("certified_on", "认证日期", day, required=True),
    ), lambda values: c.CertifyEligibility if {"method", "certified_on"} & set(values) else None,
        blame={"one_certification_per_year": "year", "certification_in_its_year": "certified_on",
               "certification_before_retirement": "certified_on"}),
    Kind("adjustments", "Annual pension adjustments (养老金调整)", (
        RETIREE_ID, ID_NUMBER, CITY, COMMUNITY_INFO, Column("pension_status", "养老金状态", info=True),
        Column("adjustments_in_year", "本年调整次数", info=True),
        Column("previous_amount", "调整前月养老金", amount, required=True, aliases=("调整前金额",)),
        Column("new_amount", "调整后月养老金", amount, required=True, aliases=("调整后金额",)),
        Column("effective_month", "生效月份", month, required=True), Column("reason", "调整原因", REASONS),
        Column("policy_reference", "政策依据"),
    ), lambda values: c.AdjustPension if "new_amount" in values else None,
        defaults={"reason": AdjustmentReason.ANNUAL_ADJUSTMENT.value},
        blame={"previous_amount_must_match": "previous_amount", "effective_month_before_retirement": "effective_month",
               "amount_must_be_positive": "new_amount", "pension_suspended": "retiree_id"}),
    Kind("services", "Services delivered (服务记录)", (
        RETIREE_ID, ID_NUMBER, Column("service_id", "服务编号", required=True), COMMUNITY,
        Column("service_type", "服务类型", SERVICES, required=True),
        Column("delivered_on", "服务日期", day, required=True), STAFF_ID,
        Column("duration_minutes", "服务时长(分钟)", integer, required=True, aliases=("服务时长",)),
        Column("notes", "备注", personal=True),
    ), _always(c.DeliverService),
        blame={"service_id_unique": "service_id", "service_by_managing_community": "community",
               "staff_active_in_community": "staff_id"}),
    Kind("staff", "Community staff roster (社区工作人员)", (
        COMMUNITY, STAFF_ID, Column("name", "姓名", personal=True), Column("role", "岗位类型", ROLES),
        Column("qualified_social_worker", "持证社工", flag), Column("joined_on", "入职日期", day),
        Column("left_on", "离职日期", day), Column("reason", "离职原因"),
    ), _staff_command,
        blame={"staff_already_active": "staff_id", "staff_rejoin_after_leaving": "joined_on",
               "staff_left_after_joining": "left_on", "staff_known": "staff_id"}),
    Kind("training", "Training completions (培训结业)", (
        COMMUNITY, STAFF_ID, Column("course", "课程编码", required=True, aliases=("课程",)),
        Column("enrolled_on", "报名日期", info=True), Column("completed_on", "结业日期", day, required=True),
    ), lambda values: c.CompleteCourse if "completed_on" in values else None,
        blame={"staff_known": "staff_id", "course_offered": "course", "course_enrolled": "course"}),
    Kind("funding", "Funding allocated to communities (社区经费拨付)", (
        Column("area", "拨款地区", required=True, aliases=("地区",)), COMMUNITY, CITY,
        Column("year", "年度", integer, required=True), Column("funded_in_year", "本年已拨付", info=True),
        Column("amount", "拨付金额", amount, required=True, aliases=("金额",)),
        Column("source", "资金来源", SOURCES, required=True), Column("purpose", "资金用途", PURPOSES, required=True),
    ), lambda values: c.AllocateFunding if "amount" in values else None,
        blame={"funding_within_area": "area", "community_registered": "community"}, owner="area"),
)}


def kind_of(name: str) -> Kind:
    found = KINDS.get(name)
    if found is None:
        raise InvalidInputError(f"unknown kind of sheet; expected one of {', '.join(KINDS)}")
    return found

