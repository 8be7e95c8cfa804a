"""The pension decisions of a retiree: adjust, suspend, resume (DESIGN.md section 2).

Mixed into ``Retiree``, whose events they trigger (the events stay the retiree's, so their stored
topics do not change); kept apart so each module stays small.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledger.domain.values import AdjustmentReason, PensionStatus, Stage, check_month, money, month_of
from ledger.errors import RuleViolationError


def refuse(rule: str, detail: str) -> RuleViolationError:
    return RuleViolationError(rule, detail)


class PensionDecisions:
    """The pension commands; ``Retiree`` provides the state and the events they use."""

    if TYPE_CHECKING:
        stage: str
        pension_status: str
        monthly_pension: Decimal
        retirement_date: date
        date_of_death: date | None
        PensionAdjusted: type
        PensionSuspended: type
        PensionResumed: type

        def trigger_event(self, event_class: type, **kwargs: Any) -> None: ...

        def _alive(self) -> None: ...

    def adjust_pension(
        self, *, previous_amount: Decimal, new_amount: Decimal, effective_month: str, reason: str, **fields: Any
    ) -> None:
        if self.stage == Stage.DECEASED:
            death = self.date_of_death
            if reason != AdjustmentReason.CORRECTION or death is None or effective_month > month_of(death):
                raise refuse("retiree_deceased", "after death only corrections up to the month of death are accepted")
        elif self.pension_status == PensionStatus.SUSPENDED:
            raise refuse("pension_suspended", "a suspended pension cannot be adjusted until resumed")
        new_amount = money(new_amount)
        if money(previous_amount) != self.monthly_pension:
            raise refuse("previous_amount_must_match", "previous_amount differs from the current pension")
        if check_month(effective_month) < month_of(self.retirement_date):
            raise refuse("effective_month_before_retirement", "the effective month precedes retirement")
        self.trigger_event(
            self.PensionAdjusted,
            previous_amount=self.monthly_pension,
            new_amount=new_amount,
            effective_month=effective_month,
            reason=reason,
            **fields,
        )

    def suspend_pension(self, *, effective_month: str, **fields: Any) -> None:
        self._alive()
        if self.pension_status != PensionStatus.ACTIVE:
            raise refuse("pension_not_active", "only an active pension can be suspended")
        if check_month(effective_month) < month_of(self.retirement_date):
            raise refuse("effective_month_before_retirement", "the effective month precedes retirement")
        self.trigger_event(self.PensionSuspended, effective_month=effective_month, **fields)

    def resume_pension(self, *, effective_month: str, back_pay: Decimal, **fields: Any) -> None:
        self._alive()
        if self.pension_status != PensionStatus.SUSPENDED:
            raise refuse("pension_not_suspended", "only a suspended pension can be resumed")
        if not back_pay.is_finite() or back_pay < 0:
            raise refuse("back_pay_not_negative", "back pay cannot be negative")
        check_month(effective_month)
        self.trigger_event(
            self.PensionResumed, effective_month=effective_month, back_pay=back_pay.quantize(Decimal("0.01")), **fields
        )
