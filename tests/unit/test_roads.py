import numpy as np
import pytest

from dlbook.data import roads


def test_render_is_seeded_and_prefix_stable():
    a, b = roads.render(6, seed=4), roads.render(3, seed=4)
    np.testing.assert_array_equal(a.images[:3], b.images)
    assert all((x == y).all() for x, y in zip(a.boxes[:3], b.boxes, strict=True))
    assert not np.array_equal(roads.render(3, seed=5).images, b.images)


def test_render_labels_are_consistent():
    s = roads.render(40, seed=0)
    assert s.images.min() >= 0 and s.images.max() <= 1
    for boxes, labels, vis in zip(s.boxes, s.labels, s.visible, strict=True):
        assert len(boxes) == len(labels) == len(vis)
        assert ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] - boxes[:, 1] >= 3)).all()
        assert (boxes >= 0).all() and (boxes <= 64).all()
        assert ((vis >= 0.3) & (vis <= 1)).all()
    assert set(np.concatenate(s.labels).tolist()) == {0, 1, 2}
    assert 0.005 < s.lanes.mean() < 0.1          # markings are a few % of the pixels
    assert s.lanes[:, : 20].sum() == 0            # none in the sky


def test_dark_frames_are_darker():
    s = roads.render(60, seed=1, dark=0.5)
    dark = s.light < 0.5
    assert 0 < dark.sum() < 60
    assert s.images[dark].mean() < s.images[~dark].mean()


def test_occluded_objects_report_partial_visibility():
    s = roads.render(80, seed=3, max_cars=6)
    vis = np.concatenate(s.visible)
    assert (vis < 0.95).any() and (vis > 0.99).any()


def test_subset_and_validation():
    s = roads.render(5, seed=0)
    sub = s.subset(np.array([True, False, True, False, False]))
    assert len(sub) == 2 and sub.boxes[1] is s.boxes[2]
    with pytest.raises(ValueError, match="share"):
        roads.render(2, dark=1.5)
    with pytest.raises(ValueError, match="positive int"):
        roads.render(0)
