"""The benchmark cannot rot: build its dataset at a tiny scale and run every measure once.

The benchmark itself (`make bench`) is not part of the suite: it is slow.
"""

import json

import pytest

from tests.bench import dataset, measures, run


@pytest.mark.django_db
def test_bench_builds_and_measures_at_a_tiny_scale(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    spec = dataset.Spec(scale=0.001, plans=2, versions_per_plan=2, courses=3)
    data = dataset.build(spec, log=lambda message: None)

    assert data.counts["incidents"] == 100
    assert data.counts["people"] == 10
    # Every incident has its history: a create row and one per assignment, phase and edit.
    assert data.counts["incident_history"] >= 2 * data.counts["incidents"]
    assert data.counts["training_records"] == 10 * 3
    assert data.counts["acknowledgements"] > 0

    results = measures.run_all(data, repeat=1, warmup=0, log=lambda message: None)
    assert [r.name for r in results] == list(run.NAMES)
    payload = {
        "scale": spec.scale,
        "database": "test",
        "dataset": data.counts,
        "measures": {r.name: r.as_json() for r in results},
    }
    for name, figures in payload["measures"].items():
        assert figures["queries"] > 0, name
        assert figures["median_ms"] > 0 and figures["floor_median_ms"] > 0, name
        assert figures["ratio"] == pytest.approx(
            figures["median_ms"] / figures["floor_median_ms"], rel=0.01
        )
    assert payload["measures"]["ack_compliance"]["audience"] >= 10
    assert payload["measures"]["training_compliance_csv"]["rows"] >= 30
    json.dumps(payload)  # the shape bench-results.json is written in
    assert set(run.judge(payload)) == set(run.NAMES)
    assert run.growth(payload, payload)["measures"]["api_incident_list"]["median_x"] == 1.0


def test_rounds_pool_their_samples(monkeypatch):
    """The runner alternates scales in rounds; a measure's figures come from all its samples."""
    rounds = [
        {"api_incident_list": {"queries": 7, "samples": [1.0, 2.0], "floor_samples": [1.0, 1.0],
                               "extra": {"rows": 100}}},
        {"api_incident_list": {"queries": 7, "samples": [3.0, 4.0, 5.0], "floor_samples": [2.0],
                               "extra": {}}},
    ]  # fmt: skip
    meta = {"scale": 1.0, "database": "postgresql", "dataset": {}, "build_seconds": 1.0}
    monkeypatch.setattr(run, "NAMES", ("api_incident_list",))
    payload = run.pool(meta, rounds)
    figures = payload["measures"]["api_incident_list"]
    assert figures["median_ms"] == 3.0 and figures["floor_median_ms"] == 1.0
    assert figures["ratio"] == 3.0 and figures["rows"] == 100 and figures["rounds"] == 2
    assert payload["rounds"] == 2 and payload["scale"] == 1.0
