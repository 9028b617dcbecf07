"""Names in mlpulse.yaml that match nothing: warnings with "did you mean"."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mlpulse.domain.config_decode import decode_config
from mlpulse.domain.config_warnings import Seen, config_warnings
from mlpulse.domain.series_catalogue import SERIES, series_of_check
from mlpulse.services import evaluator, monitor_checks, probes, slos, stream_detection

BREAST = Seen(models={"cancer": frozenset({"mean radius", "mean texture", "score"})})


def _warnings(raw: dict[str, Any], seen: Seen | None = None) -> dict[str, str]:
    config, problems = decode_config({"version": 1, **raw}, strict=False)
    assert problems == []
    return {w.path: w.message for w in config_warnings(config, seen=seen)}


def _rule(series: str, **match: str) -> dict[str, Any]:
    return {"rules": {"r": {"kind": "threshold", "series": series, "op": ">", "value": 1,
                            "match": match}}}  # fmt: skip


def test_series_catalogue_lists_every_series_the_collector_writes() -> None:
    # The checks' docstring table and code, the evaluator and the streaming detectors:
    # a series renamed or added there must be renamed or added in the catalogue too.
    written = set()
    for module in (monitor_checks, evaluator, slos, probes):
        with open(module.__file__ or "", encoding="utf-8") as source:
            written |= set(re.findall(r"\bmlpulse_[a-z_]+[a-z]\b", source.read()))
    written |= {stream_detection.STREAM_CHANGE, stream_detection.CANARY_CHANGE}
    assert set(SERIES) == written


def test_series_of_check_names_a_catalogued_series() -> None:
    for check in ("drift", "prediction_drift", "latency", "throughput", "errors",
                  "performance", "estimated_performance"):  # fmt: skip
        assert series_of_check(check) in SERIES


def test_config_warnings_suggests_the_series_for_a_misspelt_one() -> None:
    assert _warnings(_rule("mlpulse_drift_shar")) == {
        "rules.r.series": "the collector writes no series named 'mlpulse_drift_shar'; "
        "did you mean 'mlpulse_drift_share'?"
    }


def test_config_warnings_lists_the_values_of_a_label_when_none_matches() -> None:
    found = _warnings(_rule("mlpulse_latency_seconds", percentile="0.99"))
    assert found == {
        "rules.r.match.percentile": "mlpulse_latency_seconds never has percentile '0.99' "
        "(its values: p50, p95, p99)"
    }


def test_config_warnings_lists_the_labels_of_a_series_for_an_unknown_key() -> None:
    found = _warnings(_rule("mlpulse_error_rate", modl="fraud"))
    message = found["rules.r.match.modl"]
    assert message.startswith("mlpulse_error_rate has no label 'modl'; did you mean 'model'?")
    assert "(its labels: environment, mode, model, monitor, version)" in message


def test_config_warnings_accepts_segment_labels_and_an_empty_value() -> None:
    raw = {"models": {"fraud": {"segments": ["country"]}}, **_rule(
        "mlpulse_error_rate", model="fraud", country="de", env="")}  # fmt: skip
    assert "rules.r.match.country" not in _warnings(raw)


def test_config_warnings_names_a_model_the_collector_has_not_seen() -> None:
    raw = {"monitors": {"m": {"model": "cancr", "check": "latency"}},
           **_rule("mlpulse_latency_seconds", model="cancr")}  # fmt: skip
    found = _warnings(raw, BREAST)
    assert found["monitors.m.model"] == (
        "no model named 'cancr'; did you mean 'cancer'? "
        "(the file declares or the collector has seen: cancer)"
    )
    assert "rules.r.match.model" in found


def test_config_warnings_offline_names_only_a_model_close_to_a_declared_one() -> None:
    raw = {
        "models": {"cancer": {}},
        "monitors": {
            "a": {"model": "cancr", "check": "errors"},
            "b": {"model": "fraud", "check": "errors"},
        },
    }
    assert list(_warnings(raw)) == ["monitors.a.model"]


def test_config_warnings_names_a_column_the_model_never_sent() -> None:
    raw = {"monitors": {"d": {"model": "cancer", "check": "drift", "columns": ["mean radiu"]}},
           **_rule("mlpulse_drift_score", model="cancer", column="mean radiu")}  # fmt: skip
    found = _warnings(raw, BREAST)
    assert found["monitors.d.columns[0]"].startswith(
        "model 'cancer' has no column 'mean radiu'; did you mean 'mean radius'?"
    )
    assert "rules.r.match.column" in found
    assert _warnings(raw) == {}  # offline the columns are not known


def test_config_warnings_knows_the_default_monitors_of_a_model() -> None:
    raw = _rule("mlpulse_latency_seconds", model="cancer", monitor="cancer-latency")
    assert _warnings(raw, BREAST) == {}
    raw = _rule("mlpulse_latency_seconds", model="cancer", monitor="cancer-latncy")
    assert "did you mean 'cancer-latency'?" in _warnings(raw, BREAST)["rules.r.match.monitor"]


def test_config_warnings_checks_alert_names_and_severities_of_runbooks_and_routes() -> None:
    raw = {
        **_rule("mlpulse_error_rate"),
        "receivers": {"team": {"kind": "webhook", "settings": {"url": "http://127.0.0.1/"}}},
        "route": {"receiver": "team", "routes": [{"match": {"severity": "crit"}}]},
        "runbooks": {"rb": {"match": {"alertname": "rr"}, "actions": [{"kind": "rollback"}]}},
    }
    found = _warnings(raw)
    assert found["route.routes[0].match.severity"] == (
        "no alert has severity 'crit'; did you mean 'critical'? "
        "(severities: info, warning, critical)"
    )
    assert found["runbooks.rb.match.alertname"] == (
        "no rule named 'rr'; did you mean 'r'? (the file declares: r)"
    )


def test_configuration_docs_list_every_series_with_its_labels_and_values() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "configuration.md").read_text()
    for name, spec in SERIES.items():
        labels = ", ".join(f"`{label}`" for label in spec.labels)
        labels += ", segment tags" if spec.per_monitor else ""
        values = "; ".join(
            f"`{key}`: " + ", ".join(f"`{v}`" for v in known) for key, known in spec.values.items()
        )
        assert f"| `{name}` | {labels} | {values} |" in doc, name


def test_config_warnings_names_a_paging_monitors_unknown_model_once() -> None:
    raw = {"monitors": {"m": {"model": "cancr", "check": "errors", "critical": 0.1,
                              "page": True}}}  # fmt: skip
    assert list(_warnings(raw, BREAST)) == ["monitors.m.model"]


def test_config_warnings_names_a_version_or_segment_value_no_series_has() -> None:
    seen = Seen(
        models=BREAST.models,
        labels={"version": frozenset({"v1", "v2"}), "country": frozenset({"de", "fr"})},
    )
    raw = {"models": {"cancer": {"segments": ["country"]}},
           **_rule("mlpulse_error_rate", model="cancer", version="v3", country="DE")}  # fmt: skip
    found = _warnings(raw, seen)
    assert found == {
        "rules.r.match.version": "no series has version 'v3' now (seen: v1, v2)",
        "rules.r.match.country": "no series has country 'DE' now; did you mean 'de'? "
        "(seen: de, fr)",
    }
    raw = _rule("mlpulse_error_rate", model="cancer", version="v2")
    assert _warnings(raw, seen) == {}


def test_config_warnings_names_a_probe_the_file_does_not_declare() -> None:
    raw = {"probes": {"fraud-health": {"url": "http://127.0.0.1:9/healthz"}},
           **_rule("mlpulse_probe_success", probe="fraud-helth")}  # fmt: skip
    assert _warnings(raw) == {
        "rules.r.match.probe": "no probe named 'fraud-helth'; did you mean 'fraud-health'? "
        "(the file declares: fraud-health)"
    }
    raw["rules"]["r"]["match"] = {"probe": "fraud-health"}
    assert _warnings(raw) == {}
