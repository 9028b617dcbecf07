"""Ranking performance from ranked lists and the items each request found relevant.

>>> r = ranking_performance([["a", "b", "c"], ["d", "e", "f"]], [{"b"}, {"x"}], k=2)
>>> r.metrics["hit_rate_at_k"], r.metrics["mrr"]
(0.5, 0.25)
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass

from mlpulse.core.drift.check import Status
from mlpulse.errors import InvalidInputError, parameter_error

__all__ = ["METRICS", "RankingPerformanceResult", "ranking_performance"]

METRICS = ("precision_at_k", "recall_at_k", "ndcg_at_k", "mrr", "hit_rate_at_k")
_OWNER = "ranking_performance"


@dataclass(frozen=True, slots=True)
class RankingPerformanceResult:
    """The ranking metrics of ``n`` requests, cut at rank ``k``.

    ``n_excluded`` requests had no relevant item and are left out of ``recall_at_k``,
    ``ndcg_at_k`` and ``mrr`` (each is None when every request was left out);
    ``precision_at_k`` and ``hit_rate_at_k`` count every request.
    """

    n: int
    k: int
    n_excluded: int
    metrics: Mapping[str, float | None]
    status: Status


def ranking_performance(
    rankings: Sequence[Sequence[Hashable]],
    relevant: Sequence[Collection[Hashable]],
    *,
    k: int = 10,
    min_requests: int = 1,
) -> RankingPerformanceResult:
    r"""Precision, recall, NDCG and hit rate at ``k``, and the mean reciprocal rank.

    For a request with ranked items :math:`r_1, r_2, \dots` and relevant set :math:`R`
    (binary relevance: an item was clicked or it was not), with
    :math:`h = |\{r_1..r_k\} \cap R|`:

    * precision@k :math:`= h / k` (a list shorter than ``k`` counts its missing ranks as
      misses), hit rate@k :math:`= [h > 0]`;
    * recall@k :math:`= h / |R|`;
    * NDCG@k :math:`= \mathrm{DCG}/\mathrm{IDCG}` with
      :math:`\mathrm{DCG} = \sum_{i \le k,\, r_i \in R} 1/\log_2(i+1)` and IDCG the DCG
      of an ideal list, :math:`\sum_{i \le \min(k, |R|)} 1/\log_2(i+1)` (Järvelin and
      Kekäläinen, 2002) — relevant items missing from the list still count in IDCG;
    * reciprocal rank :math:`= 1/i` for the first relevant :math:`r_i` in the *whole*
      list, 0 when none is in it (Voorhees, 1999).

    Each is averaged over requests. A request with no relevant item has no recall, no
    ideal DCG and no first relevant rank: it is excluded from recall, NDCG and MRR (the
    result counts them in ``n_excluded``) but kept in precision and hit rate, which
    measure what users were shown. An item repeated in a list counts at its first rank.

    Parameters
    ----------
    rankings : sequence of sequences
        Per request, item ids best first.
    relevant : sequence of collections
        Per request, the ids of the relevant (e.g. clicked) items.
    k : int, default 10
        The cut-off rank.
    min_requests : int, default 1
        Fewer requests than this give ``status="insufficient_data"``, all metrics None.

    Returns
    -------
    RankingPerformanceResult

    Raises
    ------
    InvalidInputError
        If ``rankings`` and ``relevant`` have different lengths.

    References
    ----------
    Järvelin, K. and Kekäläinen, J. (2002). Cumulated gain-based evaluation of IR
    techniques. *ACM Transactions on Information Systems* 20(4), 422–446.
    Voorhees, E. M. (1999). The TREC-8 question answering track report. *TREC-8*.

    Examples
    --------
    >>> r = ranking_performance([[1, 2, 3], [4, 5, 6]], [{1, 3}, set()], k=3)
    >>> r.n_excluded, round(r.metrics["ndcg_at_k"], 4), r.metrics["precision_at_k"]
    (1, 0.9197, 0.3333333333333333)
    """
    for name, value, low in (("k", k, 1), ("min_requests", min_requests, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise parameter_error(name, _OWNER, f"an int >= {low}", value)
    n = len(rankings)
    if len(relevant) != n:
        raise InvalidInputError(
            f"'relevant' must have one entry per ranking ({n}). Got {len(relevant)}.",
            field="relevant",
        )
    if n < min_requests or n == 0:
        return RankingPerformanceResult(n, k, 0, dict.fromkeys(METRICS), Status.INSUFFICIENT_DATA)
    discounts = [1.0 / math.log2(i + 2) for i in range(k)]
    precision = hits = recall = ndcg = reciprocal = 0.0
    n_excluded = 0
    for ranking, wanted in zip(rankings, relevant, strict=True):
        targets = set(wanted)
        seen: set[Hashable] = set()
        found = 0
        gain = 0.0
        first = 0
        for rank, item in enumerate(ranking):
            if item in seen:
                continue
            seen.add(item)
            if item in targets:
                if rank < k:
                    found += 1
                    gain += discounts[rank]
                if not first:
                    first = rank + 1
        precision += found / k
        hits += found > 0
        if not targets:
            n_excluded += 1
            continue
        recall += found / len(targets)
        ndcg += gain / sum(discounts[: min(k, len(targets))])
        reciprocal += 1.0 / first if first else 0.0
    evaluated = n - n_excluded
    metrics: dict[str, float | None] = {
        "precision_at_k": precision / n,
        "recall_at_k": recall / evaluated if evaluated else None,
        "ndcg_at_k": ndcg / evaluated if evaluated else None,
        "mrr": reciprocal / evaluated if evaluated else None,
        "hit_rate_at_k": hits / n,
    }
    return RankingPerformanceResult(n, k, n_excluded, metrics, Status.OK)
