"""Prometheus metrics of the service, on a registry of its own (one per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "churn_serving_requests",
            "Requests by endpoint and HTTP status.",
            ["endpoint", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "churn_serving_request_seconds",
            "Request latency by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "churn_serving_errors", "Failed requests by kind.", ["kind"], registry=r
        )
        self.rows = Counter(
            "churn_serving_rows", "Rows answered by status (ok, not_found).", ["status"], registry=r
        )
        self.batch_rows = Histogram(
            "churn_serving_batch_requests",
            "Requests scored together in one predict call.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self.model_version = Gauge(
            "churn_serving_model_version",
            "Version of the model being served.",
            ["model_name"],
            registry=r,
        )
        self.model_swaps = Counter(
            "churn_serving_model_swaps", "Champion changes picked up without restart.", registry=r
        )
        self.model_load_failures = Counter(
            "churn_serving_model_load_failures",
            "Champion loads that failed (old model kept).",
            registry=r,
        )
        self.feature_version = Gauge(
            "churn_serving_feature_table_version",
            "Delta version of the feature table held by the online store.",
            ["table"],
            registry=r,
        )
        self.feature_age = Gauge(
            "churn_serving_feature_age_seconds",
            "Seconds since the online store was last published.",
            ["table"],
            registry=r,
        )
