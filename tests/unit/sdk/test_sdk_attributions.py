"""Feature attributions travel as ``attr:<feature>`` features; bad ones raise at the call."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from mlpulse.domain.events import Prediction
from mlpulse.errors import ParameterError
from mlpulse.sdk.attributions import ATTRIBUTION_PREFIX, attribution_features


def test_log_prediction_sends_attributions_as_attr_features(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url)
    features = {"amount": 12.5, "country": "DE"}
    attributions = {"amount": 0.31, "country": -0.07}
    request_id = client.log_prediction("fraud", "v3", features, 1, attributions=attributions)
    assert client.flush(timeout=4)

    (prediction,) = receiver.predictions()
    assert isinstance(prediction, Prediction)
    assert prediction.request_id == request_id
    assert prediction.features == {
        "amount": 12.5,
        "country": "DE",
        "attr:amount": 0.31,
        "attr:country": -0.07,
    }
    assert features == {"amount": 12.5, "country": "DE"}  # the caller's dict is untouched
    assert ATTRIBUTION_PREFIX == "attr:"


def test_log_prediction_sends_predictions_with_and_without_attributions_in_one_block(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url)
    client.log_prediction("fraud", "v3", {"amount": 1.0}, attributions={"amount": 0.5})
    client.log_prediction("fraud", "v3", {"amount": 2.0})
    assert client.flush(timeout=4)
    (block,) = receiver.accepted()[0].batch.predictions
    assert block.features == {"amount": [1.0, 2.0], "attr:amount": [0.5, None]}


def test_log_prediction_accepts_numpy_and_int_attributions_as_floats(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url)
    attributions = {"a": np.float32(0.25), "b": np.int64(2), "c": 3}
    client.log_prediction("fraud", "v3", {"a": 1.0}, attributions=attributions)
    assert client.flush(timeout=4)
    (prediction,) = receiver.predictions()
    assert {k: v for k, v in prediction.features.items() if k.startswith("attr:")} == {
        "attr:a": 0.25,
        "attr:b": 2.0,
        "attr:c": 3.0,
    }


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_log_prediction_refuses_a_non_finite_attribution_naming_the_feature(
    receiver: Any, make_client: Any, value: float
) -> None:
    client = make_client(receiver.url)
    with pytest.raises(ParameterError) as caught:
        client.log_prediction("fraud", "v3", {"amount": 1.0}, attributions={"amount": value})
    message = str(caught.value)
    assert message.startswith(
        "The 'attributions' parameter of Client.log_prediction must be a mapping of feature "
        "names (str) to finite numbers. Got {'amount': "
    )
    assert client.flush(timeout=4)
    assert client.stats().logged == 0  # nothing was buffered
    assert receiver.events() == []


@pytest.mark.parametrize(
    "attributions",
    [{"amount": "0.3"}, {"amount": None}, {"amount": True}, {3: 0.5}, [("amount", 0.3)], 0.3],
)
def test_log_prediction_refuses_attributions_that_are_not_names_to_numbers(
    receiver: Any, make_client: Any, attributions: Any
) -> None:
    client = make_client(receiver.url)
    with pytest.raises(ParameterError, match=r"'attributions' parameter of Client\.log_prediction"):
        client.log_prediction("fraud", "v3", {"amount": 1.0}, attributions=attributions)


def test_log_prediction_refuses_an_attribution_that_would_overwrite_a_feature(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url)
    with pytest.raises(ParameterError, match="features has 'attr:amount'"):
        client.log_prediction("fraud", "v3", {"attr:amount": 1.0}, attributions={"amount": 0.5})


def test_log_prediction_refuses_bad_attributions_even_when_the_buffer_is_full(
    receiver: Any, make_client: Any
) -> None:
    client = make_client(receiver.url)
    client.close(timeout=1)  # a closed client drops every event
    with pytest.raises(ParameterError):
        client.log_prediction("fraud", "v3", {}, attributions={"a": math.nan})


def test_attribution_features_prefixes_each_name() -> None:
    assert attribution_features({"x": 1.5, "y z": -2}) == {"attr:x": 1.5, "attr:y z": -2.0}
    assert attribution_features({}) == {}
