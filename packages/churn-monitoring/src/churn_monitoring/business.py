"""The business view of a window, shown next to the statistics.

- ``expected_loss``: revenue at risk, ``sum(churn probability x monthly charges) x horizon``.
- ``value_captured`` (once labels exist): what acting at the model's threshold earned, ``TP x
  customer_value x offer_acceptance - (TP + FP) x offer_cost``: every flagged customer gets the
  offer, a share of the true churners it reaches stay.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BusinessParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon_months: float = Field(default=12.0, gt=0, description="months of revenue at risk")
    offer_cost: float = Field(default=50.0, ge=0, description="cost of one retention offer")
    customer_value: float = Field(default=800.0, ge=0, description="value of a retained churner")
    offer_acceptance: float = Field(
        default=0.3, ge=0, le=1, description="share of contacted churners who stay"
    )


def expected_loss(probability_x_charges_sum: float, params: BusinessParams) -> float:
    return probability_x_charges_sum * params.horizon_months


def value_captured(tp: float, fp: float, params: BusinessParams) -> float:
    return tp * params.customer_value * params.offer_acceptance - (tp + fp) * params.offer_cost
