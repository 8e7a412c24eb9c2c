"""Names and inputs of the engineered interactions the pipeline can add (model-side features).

They are computed inside the pipeline (see ``feature_frame.FeatureFrame``), so a model that uses
them still takes only contract columns as input. Kept free of pandas so config validation is light.
"""

from dataclasses import dataclass
from typing import Literal

InteractionName = Literal[
    "contract_x_fiber",
    "electronic_check",
    "fiber_x_log_tenure",
    "month_to_month_x_log_tenure",
    "electronic_check_x_log_tenure",
    "fiber_x_monthly_charges",
]


@dataclass(frozen=True)
class Interaction:
    kind: Literal["numeric", "categorical"]
    inputs: tuple[str, ...]
    doc: str


INTERACTIONS: dict[str, Interaction] = {
    "contract_x_fiber": Interaction(
        "categorical",
        ("contract", "internet_service"),
        "contract crossed with fiber-optic internet (month-to-month fiber churns most)",
    ),
    "electronic_check": Interaction(
        "numeric", ("payment_method",), "1 when paying by electronic check, else 0"
    ),
    "fiber_x_log_tenure": Interaction(
        "numeric", ("internet_service", "log_tenure"), "log tenure for fiber customers, else 0"
    ),
    "month_to_month_x_log_tenure": Interaction(
        "numeric", ("contract", "log_tenure"), "log tenure for month-to-month contracts, else 0"
    ),
    "electronic_check_x_log_tenure": Interaction(
        "numeric",
        ("payment_method", "log_tenure"),
        "log tenure for electronic-check payers, else 0",
    ),
    "fiber_x_monthly_charges": Interaction(
        "numeric",
        ("internet_service", "monthly_charges"),
        "monthly charges for fiber customers, else 0",
    ),
}
