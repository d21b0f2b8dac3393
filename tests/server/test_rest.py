"""REST under /cogment/api/ against a real jupyter server, its runtime and a Lab attached to it."""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
import pytest

from cogment_jupyter.access import private_directory
from tests.server.conftest import recorded
from tests.server.harness import JupyterServer, wait_for

ROUTES = [
    ("GET", "status"),
    ("GET", "trials"),
    ("GET", "trials/some-id"),
    ("GET", "trials/some-id/steps"),
    ("POST", "trials/some-id/terminate"),
    ("POST", "runtime/restart"),
]


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["no-token", "wrong-token"])
def test_every_route_needs_the_token(server: JupyterServer, token: str | None) -> None:
    for method, path in ROUTES:
        reply = server.request(method, "/cogment/api/" + path, token=token)
        assert reply.status in (401, 403), (method, path, reply.status, reply.body)
        assert reply.headers["Content-Type"].startswith("application/json")
    assert server.status()["state"] == "running"  # and nothing was restarted by those calls


def test_status_describes_the_runtime(server: JupyterServer) -> None:
    status = server.status()
    assert status["state"] == "running" and status["responding"] is True
    assert os.kill(status["pid"], 0) is None  # alive
    private = str(private_directory()).replace("/", "%2F")
    for name, endpoint in status["endpoints"].items():  # Unix sockets only this user can reach, stable across restarts
        assert endpoint == f"grpc://unix:{private}%2F{server.proc.pid}-runtime-{name}.sock"
    assert status["versions"]["cogment_jupyter"] and status["versions"]["cogment"].startswith("2.")
    assert status["uptime"] > 0 and isinstance(status["restarts"], int)
    assert status["datastore_dir"] == str(server.root / ".cogment")
    assert status["server_pid"] == server.proc.pid
    assert status["auto_start"] is True


@pytest.fixture(scope="module")
def two_trials(server: JupyterServer, shared_lab) -> list[str]:
    ids = []
    for n in ("1", "2"):
        handle = shared_lab.start_trial("cartpole", "random", properties={"suite": "rest", "n": n}, seed=int(n))
        handle.wait(60)
        ids.append(handle.id)
    for trial_id in ids:
        recorded(server, trial_id)
    return ids


def ids_of(server: JupyterServer, query: str) -> list[str]:
    return [t["trial_id"] for t in server.api("GET", "trials" + query)["trials"]]


def test_trials_list_and_filters(server: JupyterServer, two_trials: list[str]) -> None:
    everything = server.api("GET", "trials")
    assert set(two_trials) <= {t["trial_id"] for t in everything["trials"]}
    row = next(t for t in everything["trials"] if t["trial_id"] == two_trials[0])
    assert row["state"] == "ENDED" and row["steps"] > 0 and row["properties"]["suite"] == "rest"
    assert row["actors"][0]["implementation"] == "random"
    assert dt.datetime.fromisoformat(row["started"]) <= dt.datetime.fromisoformat(row["ended"])

    assert ids_of(server, "?property=suite=rest") == two_trials
    assert ids_of(server, "?property=suite=rest&property=n=2") == two_trials[1:]
    assert ids_of(server, '?properties={"suite":"rest","n":"1"}') == two_trials[:1]
    assert ids_of(server, "?property=suite=rest&state=ENDED,RUNNING") == two_trials
    assert ids_of(server, "?property=suite=rest&state=RUNNING") == []
    assert ids_of(server, "?property=suite=rest&since=1h") == two_trials
    assert ids_of(server, "?property=suite=rest&since=2200-01-01T00:00") == []
    assert ids_of(server, "?property=suite=rest&until=2000-01-01") == []
    assert ids_of(server, "?property=suite=rest&1763700000000") == two_trials  # JupyterLab's cache buster
    limited = server.api("GET", "trials?property=suite=rest&limit=1")
    assert [t["trial_id"] for t in limited["trials"]] == two_trials[1:] and limited["total"] == 2


@pytest.mark.parametrize(
    "query",
    [
        "state=bogus",
        "since=not-a-time",
        "since=2999-01-01",
        "property=novalue",
        "properties=[1]",
        "properties={",
        "limit=-1",
        "colour=red",
        "1763700000000=red",
    ],
)
def test_bad_filters_are_400(server: JupyterServer, query: str) -> None:
    reply = server.request("GET", "/cogment/api/trials?" + query)
    assert reply.status == 400, reply.body
    assert reply.json()["message"]


def test_one_trial(server: JupyterServer, two_trials: list[str]) -> None:
    document = server.api("GET", f"trials/{two_trials[0]}")
    assert document["trial"]["trial_id"] == two_trials[0]
    assert document["params"]["actors"][0]["name"] == "gym"
    assert document["params"]["properties"]["n"] == "1"
    assert document["live"] is None or document["live"]["state"] == "ENDED"
    missing = server.request("GET", "/cogment/api/trials/no-such-trial")
    assert missing.status == 404 and "no-such-trial" in missing.json()["message"]


def test_steps_as_json(server: JupyterServer, two_trials: list[str]) -> None:
    trial_id = two_trials[0]
    steps = server.api("GET", f"trials/{trial_id}/steps")
    row = server.api("GET", f"trials/{trial_id}")["trial"]
    assert steps["decoded"] is True and steps["count"] == row["steps"]  # one actor: a row per tick
    first = steps["steps"][0]
    assert first["trial_id"] == trial_id and first["tick"] == 0 and first["actor"] == "gym"
    assert len(first["observation"]) == 4 and all(isinstance(x, float) for x in first["observation"])
    assert first["action"] in (0, 1)
    page = server.api("GET", f"trials/{trial_id}/steps?offset=2&limit=3")
    assert [s["tick"] for s in page["steps"]] == [2, 3, 4] and page["offset"] == 2
    raw = server.api("GET", f"trials/{trial_id}/steps?decode=0&limit=1")
    assert raw["decoded"] is False and isinstance(raw["steps"][0]["observation"], str)  # base64
    assert server.request("GET", "/cogment/api/trials/nope/steps").status == 404
    assert server.request("GET", f"/cogment/api/trials/{trial_id}/steps?format=xml").status == 400
    assert server.request("GET", f"/cogment/api/trials/{trial_id}/steps?offset=x").status == 400


def test_steps_as_arrow(server: JupyterServer, two_trials: list[str]) -> None:
    trial_id = two_trials[1]
    as_json = server.api("GET", f"trials/{trial_id}/steps")
    by_format = server.request("GET", f"/cogment/api/trials/{trial_id}/steps?format=arrow")
    by_accept = server.request(
        "GET", f"/cogment/api/trials/{trial_id}/steps", headers={"Accept": "application/vnd.apache.arrow.stream"}
    )
    for reply in (by_format, by_accept):
        assert reply.status == 200 and reply.headers["Content-Type"] == "application/vnd.apache.arrow.stream"
        assert reply.headers["X-Cogment-Decoded"] == "true"
        table = pa.ipc.open_stream(reply.body).read_all()
        assert table.num_rows == as_json["count"]
        assert table.column_names == as_json["columns"]
        assert table.column("tick").to_pylist() == [s["tick"] for s in as_json["steps"]]
        assert pa.types.is_list(table.schema.field("observation").type) or pa.types.is_fixed_size_list(
            table.schema.field("observation").type
        )
    raw = pa.ipc.open_stream(
        server.request("GET", f"/cogment/api/trials/{trial_id}/steps?format=arrow&decode=0").body
    ).read_all()
    assert raw.schema.field("observation").type == pa.binary()


def test_terminate(server: JupyterServer, shared_lab) -> None:
    handle = shared_lab.start_trial("endless", "slow", properties={"suite": "terminate"})

    def running() -> bool:
        reply = server.request("GET", f"/cogment/api/trials/{handle.id}")
        return reply.status == 200 and (reply.json()["live"] or {}).get("state") == "RUNNING"

    wait_for(running, 30, "the endless trial running")
    assert server.request("POST", f"/cogment/api/trials/{handle.id}/terminate", body=[1]).status == 400
    reply = server.request("POST", f"/cogment/api/trials/{handle.id}/terminate", body={"hard": False})
    assert reply.status == 202, reply.body
    assert reply.json()["requested"] is True
    handle.wait(30)
    assert handle.state == "ENDED"
    document = recorded(server, handle.id)
    assert document["trial"]["steps"] > 0
    again = server.request("POST", f"/cogment/api/trials/{handle.id}/terminate")
    assert again.status == 409, again.body
    assert server.request("POST", "/cogment/api/trials/no-such-trial/terminate").status == 404


@pytest.mark.parametrize(
    ("quoted", "named"),
    [("%C3%A9t%C3%A9", "U+00E9"), ("a%00b", "U+0000"), ("a%0Ab", "U+000A"), ("x" * 4097, "at most 4096")],
    ids=["non-ASCII", "NUL", "newline", "too-long"],
)
def test_ids_no_trial_can_have_are_400_on_every_trial_route(server: JupyterServer, quoted: str, named: str) -> None:
    for method, suffix in (("GET", ""), ("GET", "/steps"), ("POST", "/terminate")):
        reply = server.request(method, f"/cogment/api/trials/{quoted}{suffix}")
        assert reply.status == 400, (method, suffix, reply.status, reply.body[:300])
        message = reply.json()["message"]
        assert "no trial can have this id" in message and named in message, message
    assert server.status()["responding"] is True  # the runtime did not mind
