import json

import httpx
import numpy as np
import pytest

from dlbook import serving


def scores(x):
    """A stand-in model: 3 scores per (2, 2) instance, the top one at the pixel sum mod 3."""
    total = x.reshape(len(x), -1).sum(axis=1).astype(int)
    return np.eye(3, dtype="float32")[total % 3]


def make_app(**kwargs):
    kwargs.setdefault("value_range", (0, 255))
    return serving.create_app(scores, input_shape=(2, 2), class_names=["a", "b", "c"],
                              model_name="toy", version="7", **kwargs)


@pytest.fixture(scope="module")
def server():
    with serving.Server(make_app(max_instances=4, max_body_bytes=2_000)) as running:
        yield running


def post(server, payload=None, *, content=None):
    if content is not None:
        return httpx.post(server.url + "/predict", content=content,
                          headers={"content-type": "application/json"})
    return httpx.post(server.url + "/predict", json=payload)


def test_predict_returns_scores_labels_and_version(server):
    x = [[[0, 1], [1, 1]], [[0, 0], [0, 1]]]
    r = post(server, {"instances": x})
    assert r.status_code == 200
    body = r.json()
    assert body["labels"] == ["a", "b"] and body["model_version"] == "7"
    np.testing.assert_array_equal(body["predictions"], scores(np.array(x)))


def test_health_and_metadata_describe_the_service(server):
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    meta = httpx.get(server.url + "/metadata").json()
    assert meta["model"] == "toy" and meta["input_shape"] == [2, 2]
    assert meta["class_names"] == ["a", "b", "c"] and meta["max_instances"] == 4


@pytest.mark.parametrize("payload, code, words", [
    ({"instances": [[1, 2, 3, 4]]}, 422, "shape (2, 2)"),
    ({"instances": [[["a", "b"], ["c", "d"]]]}, 422, "numbers only"),
    ({"instances": [[[1, None], [1, 1]]]}, 422, "numbers only"),
    ({"instances": [[[True, False], [True, True]]]}, 422, "numbers only"),
    ({"instances": [[[1, True], [3, 4]]]}, 422, "numbers only"),   # NumPy would read 1
    ({"instances": [[[0.5, False], [3, 4]]]}, 422, "numbers only"),
    ({"instances": [[[1, 2], [3]]]}, 422, "ragged"),
    ({"instances": [[[1, 2], [3, 300]]]}, 422, "[0, 255]"),
    ({"instances": []}, 422, "non-empty"),
    ({"instances": "pixels"}, 422, "non-empty list"),
    ({"inputs": [[[1, 2], [3, 4]]]}, 422, "instances: Field required"),
    ({"instances": [[[1, 2], [3, 4]]] * 5}, 413, "at most 4"),
])
def test_malformed_requests_get_a_4xx_naming_the_problem(server, payload, code, words):
    r = post(server, payload)
    assert r.status_code == code
    assert words in r.json()["detail"]
    assert "(2, 2)" in r.json()["expected"]["instances"].replace("[2, 2]", "(2, 2)")


def test_nan_not_json_and_oversized_bodies_are_refused(server):
    nan = post(server, content=b'{"instances": [[[NaN, 1], [1, 1]]]}')
    assert nan.status_code == 422 and "NaN" in nan.json()["detail"]
    not_json = post(server, content=b"{not json")
    assert not_json.status_code == 422 and "not valid JSON" in not_json.json()["detail"]
    big = post(server, content=json.dumps({"instances": [[[1] * 2] * 2] * 200}).encode())
    assert big.status_code == 413 and "limit of 2,000" in big.json()["detail"]
    assert httpx.get(server.url + "/health").status_code == 200      # still up


def test_a_failing_model_gives_500_and_the_server_survives():
    def broken(x):
        raise RuntimeError("weights missing")

    app = serving.create_app(broken, input_shape=(1,), class_names=["x"])
    with serving.Server(app) as s:
        r = httpx.post(s.url + "/predict", json={"instances": [[1.0]]})
        assert r.status_code == 500 and "weights missing" in r.json()["detail"]
        assert httpx.get(s.url + "/health").json() == {"status": "ok"}


def test_micro_batching_joins_concurrent_requests_into_fewer_model_calls():
    calls = []

    def counted(x):
        calls.append(len(x))
        return scores(x)

    app = serving.create_app(counted, input_shape=(2, 2), class_names="abc",
                             max_batch=16, max_wait_ms=20)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 9, (40, 2, 2))
    bodies = [serving.encode_instances(x[i:i + 1]) for i in range(len(x))]
    with serving.Server(app) as s:
        report = serving.load_test(s.url + "/predict", bodies, concurrency=8, total=40,
                                   separate_process=False)
        answer = httpx.post(s.url + "/predict", content=bodies[3],
                            headers={"content-type": "application/json"}).json()
        stats = httpx.get(s.url + "/stats").json()
    assert report.completed == 40 and report.errors == 0
    assert sum(calls) == 41 and len(calls) < 30            # batches of several requests
    assert stats["model_calls"] == len(calls) and max(calls) <= 16
    assert answer["predictions"] == scores(x[3:4]).tolist()


def test_load_report_percentiles_and_throughput():
    r = serving.LoadReport(4, np.array([1.0, 2.0, 3.0, 100.0]),
                           serving.Counter({200: 4, 503: 1}), failures=1, wall_s=2.0)
    assert r.completed == 4 and r.errors == 2 and r.throughput == 2.0
    assert r.percentile(50) == 2.5 and r.summary()["p99 ms"] > 90


def test_load_test_counts_errors_and_respects_its_bounds(server):
    bad = [json.dumps({"instances": [[1, 2]]}).encode()]
    report = serving.load_test(server.url + "/predict", bad, concurrency=2, total=6)
    assert report.statuses == {422: 6} and report.completed == 0
    slow = serving.load_test(server.url + "/predict", [serving.encode_instances(
        np.zeros((1, 2, 2)))], concurrency=1, total=10_000_000, time_limit_s=0.5,
        client="httpx", separate_process=False)
    assert slow.stopped_by_time and slow.wall_s < 3


def test_bad_arguments_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="loopback"):
        serving.Server(make_app(), host="0.0.0.0")
    with pytest.raises(ValueError, match="127.0.0.1"):
        serving.load_test("http://example.com/predict", [b"{}"], concurrency=1, total=1)
    with pytest.raises(ValueError, match="encode_instances"):
        serving.load_test("http://127.0.0.1:1/predict", ["{}"], concurrency=1, total=1)
    with pytest.raises(ValueError, match="client"):
        serving.load_test("http://127.0.0.1:1/predict", [b"{}"], concurrency=1, total=1,
                          client="curl")
    with pytest.raises(ValueError, match="class_names"):
        serving.create_app(scores, input_shape=(2, 2), class_names=[])
    with pytest.raises(ValueError, match="max_wait_ms"):
        serving.create_app(scores, input_shape=(2, 2), class_names="abc", max_batch=4,
                           max_wait_ms=0)
    with pytest.raises(ValueError, match="x\\[None\\]"):
        serving.encode_instances(np.zeros(3))


def test_server_stops_even_when_the_block_raises():
    with pytest.raises(KeyError), serving.Server(make_app()) as s:
        url = s.url
        raise KeyError("boom")
    assert not s.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health", timeout=1)


def test_exported_formats_reload_to_the_same_predictions(tmp_path):
    keras = serving.import_keras()
    model = keras.Sequential([keras.Input((2, 2)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    paths = serving.export_model(model, tmp_path, name="toy")
    x = np.random.default_rng(1).normal(size=(5, 2, 2)).astype("float32")
    expected = model.predict(x, verbose=0)
    reloaded = keras.saving.load_model(paths["keras"], safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, atol=1e-6)
    np.testing.assert_allclose(serving.saved_model_predictor(paths["savedmodel"])(x), expected,
                               atol=1e-6)
    np.testing.assert_allclose(serving.keras_predictor(model)(x), expected, atol=1e-6)
    assert serving.artifact_bytes(paths["savedmodel"]) > 0
    with pytest.raises(FileNotFoundError, match="model.export"):
        serving.saved_model_predictor(tmp_path)
