"""``mlpulse sample-size``: how many units per arm an experiment needs."""

from __future__ import annotations

from typing import Annotated

import typer

from mlpulse.cli.api import err


def sample_size_command(
    baseline: Annotated[
        float, typer.Option(help="Baseline conversion rate (0–1), or the metric's sd with --means")
    ],
    mde: Annotated[
        float, typer.Option(help="Minimum detectable effect (absolute unless --relative)")
    ],
    relative: Annotated[bool, typer.Option(help="--mde is relative to the baseline")] = False,
    means: Annotated[bool, typer.Option(help="A continuous metric: --baseline is its sd")] = False,
    alpha: Annotated[float, typer.Option(help="Two-sided significance level")] = 0.05,
    power: Annotated[
        float, typer.Option(help="Chance to detect the effect when it is there")
    ] = 0.8,
    ratio: Annotated[float, typer.Option(help="Treatment units per control unit")] = 1.0,
) -> None:
    """Units per arm for a conversion rate (default) or a mean (--means)."""
    from mlpulse.core.experiments.power import sample_size_means, sample_size_proportions
    from mlpulse.errors import MlpulseError

    try:
        if means:
            result = sample_size_means(baseline, mde, alpha=alpha, power=power, ratio=ratio)
        else:
            result = sample_size_proportions(
                baseline, mde, relative=relative, alpha=alpha, power=power, ratio=ratio
            )
    except MlpulseError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    typer.echo(f"{result.n_control:,} control, {result.n_treatment:,} treatment "
               f"({result.n_control + result.n_treatment:,} in all) "
               f"for power {power:.0%} at alpha {alpha:g}")  # fmt: skip
