"""The layering rules hold, and the checker that enforces them finds what it should."""

from __future__ import annotations

from tools.architecture import cycles, imports, violations


def test_the_code_keeps_its_layering():
    assert violations() == []


def test_a_cycle_is_found_and_a_chain_is_not():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_imports_inside_functions_count_and_type_checking_ones_do_not(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from vision.schema import Roi\n"
        "if TYPE_CHECKING:\n    from service.core.config import Settings\n"
        "def f():\n    import vision.pipeline\n    from models.registry import model_path\n"
    )
    known = {"vision.schema", "vision.pipeline", "service.core.config", "models.registry", "vision"}
    assert imports(source, known) == {"vision.schema", "vision.pipeline", "models.registry"}
