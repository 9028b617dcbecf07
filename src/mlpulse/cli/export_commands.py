"""``mlpulse export``: Prometheus rules and Grafana dashboards from ``mlpulse.yaml``.

Both read the file alone (no collector): what they write is over the series the
collector shows on ``/metrics``. A rule that PromQL cannot express is skipped with a
warning on stderr and a comment in the rule file; the exit code stays 0.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import msgspec
import typer
import yaml
from rich.markup import escape

from mlpulse.cli.api import err
from mlpulse.cli.config_commands import ConfigFile, _load

export_app = typer.Typer(help="Write Prometheus rules and Grafana dashboards for mlpulse.yaml.")

Output = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write here instead of standard output")
]
Tests = Annotated[
    Path | None,
    typer.Option(
        "--tests",
        help="Also write `promtool test rules` unit tests here (needs -o: they load that file)",
    ),
]


@export_app.command("prometheus-rules")
def prometheus_rules_command(file: ConfigFile, output: Output = None, tests: Tests = None) -> None:
    """Recording and alerting rules over the collector's /metrics, for Prometheus.

    Threshold, relative and absent rules (and the rules of monitors with page: true)
    become alerting rules; anomaly and detection rules are skipped with a warning.
    Availability and latency SLOs also get Sloth-compatible recording and burn-rate
    alerting rules (slo:sli_error:ratio_rate5m, ...).
    Check the output with `promtool check rules`, and the generated unit tests with
    `promtool test rules`.
    """
    from mlpulse.adapters.export.prometheus_rules import prometheus_rules
    from mlpulse.adapters.export.promtool_tests import promtool_tests
    from mlpulse.adapters.export.slo_promtool_tests import slo_promtool_cases
    from mlpulse.adapters.export.slo_rules import replaced_rules, slo_rule_groups, slo_rule_skips

    if tests is not None and output is None:
        err.print("[red]error:[/] --tests needs -o: the tests load the rule file")
        raise typer.Exit(2)

    config = _load(file)
    # An SLO exported with Sloth's burn-rate alerts pages through those, not also through
    # the config's rules over mlpulse_slo_alert_burn_rate.
    replaced = replaced_rules(config)
    own = msgspec.structs.replace(
        config, rules={n: r for n, r in config.rules.items() if n not in replaced}
    )
    result = prometheus_rules(own, sources=[slo_rule_groups])
    for slo in slo_rule_skips(config):
        what = escape(f"slo {slo.name} ({slo.kind}) has no Sloth rules: {slo.reason}")
        err.print(f"[yellow]warning:[/] {what}")
    for skipped in result.skipped:
        err.print(
            f"[yellow]warning:[/] {escape(f'rule {skipped.name} ({skipped.kind}) not exported: ')}"
            f"{escape(skipped.reason)}"
        )
    text = result.yaml()
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    err.print(f"wrote {len(result.exported)} alerting rule(s) to {output}")
    if tests is not None:
        relative = os.path.relpath(output.resolve(), tests.resolve().parent)
        document = yaml.safe_load(promtool_tests(result, rule_file=relative))
        document["tests"] += slo_promtool_cases(config)  # the SLO alerts' outage and slow burn
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
        tests.write_text(text, encoding="utf-8")
        err.print(f"wrote promtool unit tests to {tests}")


@export_app.command("grafana")
def grafana_command(
    file: ConfigFile,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Folder for the dashboards' JSON files")
    ] = Path("dashboards"),
) -> None:
    """Grafana dashboards: an overview and one per model, over a Prometheus data source.

    Import the JSON files in Grafana (Dashboards > New > Import) or provision the folder;
    pick the Prometheus that scrapes the collector in the dashboards' `datasource` menu.
    """
    try:
        from mlpulse.adapters.export.grafana_dashboards import grafana_dashboards
    except ImportError as exc:  # the `export` extra is not installed
        err.print(
            f"[red]error:[/] {exc.name or 'a package'} is missing: pip install 'mlpulse[export]'"
        )
        raise typer.Exit(2) from exc
    result = grafana_dashboards(_load(file))
    output.mkdir(parents=True, exist_ok=True)
    for board in result.dashboards:
        (output / board.file_name).write_text(board.json(), encoding="utf-8")
        err.print(f"wrote {output / board.file_name} ({len(board.queries)} queries)")
