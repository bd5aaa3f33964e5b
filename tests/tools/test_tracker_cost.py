"""The tracker-cost tool's variants: "built" is the tracker the analysis runs, the others differ."""

from __future__ import annotations

import pytest

from tools.tracker_cost import VARIANTS, use_variant
from vision.motion import tracking


def test_built_is_the_analysis_own_tracker_and_each_other_variant_is_cheaper():
    as_built = (tracking._PART_LK, tracking._PART_BACK_CHECK)
    try:
        seen = {}
        for name in VARIANTS:
            use_variant(name)
            lk, back = tracking._PART_LK, tracking._PART_BACK_CHECK
            seen[name] = (lk["winSize"][0] * (lk["maxLevel"] + 1), back)
        use_variant("built")
        assert as_built == (tracking._PART_LK, tracking._PART_BACK_CHECK)
        for name in VARIANTS[1:]:
            window, back = seen[name]
            assert window < seen["built"][0] or not back, name
        assert len(set(seen.values())) == len(VARIANTS)
        with pytest.raises(ValueError):
            use_variant("faster")
    finally:
        tracking._PART_LK, tracking._PART_BACK_CHECK = as_built
