"""The probes' HTTP requester against local servers: answers, timing, no answer."""

from __future__ import annotations

import time

from mlpulse.adapters.http_requester import HttpRequester
from tests.integration.receivers import HttpReceiver, Reply, free_port


def test_http_requester_sends_method_headers_and_body_and_times_the_answer() -> None:
    requester = HttpRequester()
    with HttpReceiver(Reply(201, {"score": 0.9}, delay=0.2)) as server:
        response = requester.request(
            "POST", server.url + "/predict", headers={"X-Probe": "yes"}, body='{"a": 1}',
            timeout_s=2.0,
        )  # fmt: skip
        (request,) = server.requests
    assert (response.status, response.error) == (201, None)
    assert response.body == '{"score": 0.9}'
    assert 0.2 <= response.elapsed_s < 2.0
    assert (request.method, request.path, request.body) == ("POST", "/predict", b'{"a": 1}')
    assert request.headers["x-probe"] == "yes"
    requester.close()


def test_http_requester_gives_no_status_when_the_server_is_too_slow() -> None:
    requester = HttpRequester()
    with HttpReceiver(Reply(200, "late", delay=1.5)) as server:
        started = time.monotonic()
        response = requester.request("GET", server.url, headers={}, body=None, timeout_s=0.3)
        took = time.monotonic() - started
    assert (response.status, response.error) == (None, "ReadTimeout")
    assert took < 1.0 and 0.3 <= response.elapsed_s < 1.0
    requester.close()


def test_http_requester_gives_no_status_when_nothing_listens() -> None:
    requester = HttpRequester()
    url = f"http://127.0.0.1:{free_port()}/healthz"
    response = requester.request("GET", url, headers={}, body=None, timeout_s=1.0)
    assert (response.status, response.error) == (None, "ConnectError")
    requester.close()


def test_http_requester_does_not_follow_redirects() -> None:
    requester = HttpRequester()
    with HttpReceiver(Reply(302, "", headers={"Location": "/elsewhere"})) as server:
        response = requester.request("GET", server.url, headers={}, body=None, timeout_s=1.0)
        assert len(server.requests) == 1
    assert response.status == 302
    requester.close()
