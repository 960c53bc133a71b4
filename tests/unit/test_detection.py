import numpy as np
import pytest

from dlbook import detection as D


def test_box_iou_known_values_and_zero_area():
    iou = D.box_iou([[0, 0, 2, 2]], [[0, 0, 2, 2], [1, 0, 3, 2], [5, 5, 6, 6], [1, 1, 1, 1]])
    assert iou.round(4).tolist() == [[1.0, 0.3333, 0.0, 0.0]]


def test_box_iou_rejects_swapped_corners():
    with pytest.raises(ValueError, match="x1 >= x0"):
        D.box_iou([[2, 0, 0, 2]], [[0, 0, 1, 1]])


def test_nms_keeps_best_and_disjoint_boxes():
    boxes = [[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10]]
    assert D.nms(boxes, [0.8, 0.9, 0.1, 0.3], iou_threshold=0.5).tolist() == [1, 2]
    assert D.nms(np.zeros((0, 4)), np.zeros(0)).tolist() == []
    assert D.nms(boxes, [0.8, 0.9, 0.1, 0.3], iou_threshold=1.0).tolist() == [1, 0, 3, 2]


def test_average_precision_matches_hand_computed_example():
    # 3 ground-truth boxes; ranked detections TP, FP, TP, FP, TP
    tp = np.array([1, 0, 1, 0, 1])
    recall = np.cumsum(tp) / 3
    precision = np.cumsum(tp) / np.arange(1, 6)
    # all-point interpolation: 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/5
    assert D.average_precision(recall, precision) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)


def test_evaluate_counts_duplicates_and_misses():
    gt = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([[0, 0, 5, 5]])]
    labels = [np.array([0, 1]), np.array([0])]
    det = [(np.array([[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]]), np.array([0.9, 0.8, 0.7]),
            np.array([0, 0, 1])),
           (np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))]
    res = D.evaluate(det, gt, labels, n_classes=3)
    assert res["0"] == pytest.approx(0.5) and res["1"] == pytest.approx(1.0)
    assert np.isnan(res["2"]) and res["mAP"] == pytest.approx(0.75)
    hits = D.found(det, gt, labels, n_classes=3, score_threshold=0.75)
    assert [h.tolist() for h in hits] == [[True, False], [False]]


def test_encode_decode_round_trip_recovers_boxes():
    rng = np.random.default_rng(0)
    boxes = [np.array([[3.2, 5.1, 20.7, 17.9], [30.4, 30.0, 40.0, 58.3]]), np.zeros((0, 4))]
    labels = [np.array([2, 0]), np.zeros(0, int)]
    y = D.encode_centers(boxes, labels, n_classes=3, image_size=64, stride=4)
    assert y.shape == (2, 16, 16, 8) and y[1, ..., :3].max() == 0
    out = D.decode_centers(y + rng.uniform(0, 1e-6, y.shape) * 0, n_classes=3, stride=4)
    b, s, lab = out[0]
    order = np.argsort(lab)
    np.testing.assert_allclose(b[order], boxes[0][[1, 0]], atol=1e-4)
    assert lab[order].tolist() == [0, 2] and np.allclose(s, 1.0)
    assert len(out[1][0]) == 0


def test_encode_rejects_bad_class_ids_and_strides():
    with pytest.raises(ValueError, match="class ids"):
        D.encode_centers([[[0, 0, 4, 4]]], [[3]], n_classes=3, image_size=16)
    with pytest.raises(ValueError, match="multiple of stride"):
        D.encode_centers([[[0, 0, 4, 4]]], [[0]], n_classes=1, image_size=18, stride=4)


def test_centernet_loss_prefers_the_target():
    y = D.encode_centers([[[0, 0, 8, 8]]], [[0]], n_classes=1, image_size=32, stride=4)
    loss = D.CenterNetLoss(n_classes=1)
    good = y[..., :5].copy()
    shifted = good.copy()
    shifted[..., 0] = np.roll(good[..., 0], 2, axis=1)
    assert float(loss(y, good)) < float(loss(y, shifted))


def test_sliding_window_detector_finds_cars_on_its_training_frames():
    from dlbook.data import roads

    s = roads.render(16, seed=2)
    det = D.SlidingWindowDetector(scales=(0.9, 1.35, 2.0)).fit(s.images, s.boxes, s.labels)
    res = D.evaluate(det.predict(s.images), s.boxes, s.labels, n_classes=3)
    assert res["0"] > 0.2
    with pytest.raises(ValueError, match="fit"):
        D.SlidingWindowDetector().predict(s.images[:1])
