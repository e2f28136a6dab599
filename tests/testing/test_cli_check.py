"""`eqcnn check MODULE:CALLABLE`."""

import textwrap

import pytest

from eqcnn.cli import main
from eqcnn.cli._check import parse_group

MODELS = textwrap.dedent(
    """
    from torch import nn
    from eqcnn import nn as enn

    def plain():
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3, padding=1))

    def equivariant(G):
        return nn.Sequential(enn.Conv2d(G.trivial(1), G.regular(1), 3, padding=1), nn.ReLU(),
                             enn.Conv2d(G.regular(1), G.trivial(2), 3, padding=1))

    def invariant():
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def pooled():
        return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def not_a_model():
        return 3
    """
)


@pytest.fixture
def models(tmp_path, monkeypatch):
    (tmp_path / "cli_models.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_plain_model_fails_with_layerwise_table(models, capsys):
    rc = main(["check", "cli_models:plain", "--size", "9", "--layerwise"])
    out = capsys.readouterr().out
    assert rc == 1 and "rot 90 deg" in out and "FAILED" in out and "error after each layer" in out


def test_factory_with_group_passes(models, capsys):
    rc = main(["check", f"{models / 'cli_models.py'}:equivariant", "--factory", "--group", "D4", "--size", "11"])
    out = capsys.readouterr().out
    assert rc == 0 and "Dihedral(4).trivial(1) -> Dihedral(4).trivial(2)" in out and "PASSED" in out


def test_invariant_output_and_angles(models, capsys):
    rc = main(["check", "cli_models:invariant", "--output", "invariant", "--angles", "30,45", "--group", "C8",
               "--channels", "1", "--size", "9", "--dtype", "float64"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "rot 45 deg" in out and "float64" in out


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("cli_models:missing", "has no attribute 'missing'"),
        ("cli_models:not_a_model", "must return an nn.Module"),
        ("nocolon", "must be MODULE:CALLABLE"),
    ],
)
def test_errors(models, capsys, target, message):
    assert main(["check", target]) == 2
    assert message in capsys.readouterr().err


def test_parse_group():
    import eqcnn

    assert parse_group("C8") == eqcnn.Cyclic(8) and parse_group("dihedral:2") == eqcnn.Dihedral(2)
    assert parse_group("trivial") == eqcnn.Trivial()
    with pytest.raises(ValueError, match="`--group` must look like"):
        parse_group("SO2")


POOLED = textwrap.dedent(
    """
    from eqcnn import nn as enn

    def pooled(G):
        return enn.Sequential(enn.Conv2d(G.trivial(1), G.regular(1), 3, padding=1), enn.MaxPool2d(G.regular(1), 2))
    """
)


def test_default_size_is_exact_for_a_2x2_pool(tmp_path, capsys):
    (tmp_path / "pooled.py").write_text(POOLED)
    rc = main(["check", f"{tmp_path / 'pooled.py'}:pooled", "--factory", "--group", "C4", "--no-baseline"])
    out = capsys.readouterr().out
    assert "on input (1, 1, 34, 34)" in out  # (n - 2) % 2 == 0: 33 would break every rotation and shift
    assert rc == 0 and "PASSED: 6 transforms, 0 failed, 0 skipped" in out


TYPED = textwrap.dedent(
    """
    import eqcnn
    from torch import nn
    from eqcnn import nn as enn

    def c4():  # a plain Sequential of eqcnn layers: typed through its layers
        G = eqcnn.Cyclic(4)
        return nn.Sequential(enn.Conv2d(G.trivial(1), G.regular(1), 3, padding=1), nn.ReLU(),
                             enn.Conv2d(G.regular(1), G.trivial(2), 3, padding=1))

    def in_place():
        G = eqcnn.Cyclic(4)
        t = G.regular(4)
        return enn.Sequential(enn.Conv2d(G.trivial(1), t, 5, padding=2), enn.BatchNorm2d(t),
                              enn.ReLU(t, inplace=True), enn.GroupPool(t))

    def ignores_the_group(G):
        return in_place()
    """
)


@pytest.fixture
def typed(tmp_path, monkeypatch):
    (tmp_path / "cli_typed.py").write_text(TYPED)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cli_typed:in_place", "--group", "D4"],
         "`--group` asks for Dihedral(4), but the model's field types are over Cyclic(4): drop --group"),
        (["cli_typed:c4", "--group", "C8"],
         "`--group` asks for Cyclic(8), but the model's field types are over Cyclic(4)"),
        (["cli_typed:ignores_the_group", "--factory", "--group", "D4"],
         "over Cyclic(4): the factory ignored the group it was given"),
        (["cli_typed:in_place", "--channels", "3"],
         "`--channels` is 3, but the model's input type Cyclic(4).trivial(1) takes 1 channel; drop --channels"),
    ],
)  # fmt: skip
def test_group_or_channels_that_contradict_the_types_are_refused(typed, capsys, args, message):
    assert main(["check", *args, "--size", "9"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "PASSED" not in captured.out


def test_group_and_channels_that_agree_with_the_types_are_accepted(typed, capsys):
    rc = main(["check", "cli_typed:in_place", "--group", "C4", "--channels", "1", "--size", "9"])
    out = capsys.readouterr().out
    assert rc == 0 and "law: Cyclic(4).trivial(1) -> Cyclic(4).trivial(4)" in out and "PASSED" in out


def test_model_with_in_place_layers(typed, capsys):
    rc = main(["check", "cli_typed:in_place", "--size", "17", "--layerwise"])
    out = capsys.readouterr().out
    assert rc == 0 and "analytic" in out and "PASSED: 6 transforms, 0 failed, 0 skipped" in out


def test_a_check_that_judged_nothing_exits_1(models, capsys):
    # Cyclic(3) has no exact rotation, the pooled output is invariant (off-grid rows are not judged) and a
    # zero-padded model's shifts are not comparable: nothing is checked, so it is not a pass
    rc = main(["check", "cli_models:pooled", "--group", "C3", "--output", "invariant", "--size", "9"])
    out = capsys.readouterr().out
    assert rc == 1 and "NOTHING JUDGED" in out


def test_channels_feed_a_plain_first_layer_before_typed_ones(tmp_path, capsys, monkeypatch):
    # a 1x1 RGB -> gray conv, then eqcnn layers: the model has no input type of its own, so --channels is its input
    (tmp_path / "rgb_models.py").write_text(
        textwrap.dedent(
            """
            import eqcnn
            from torch import nn
            from eqcnn import nn as enn

            G = eqcnn.Cyclic(4)

            def rgb():
                return nn.Sequential(nn.Conv2d(3, 1, 1), enn.Conv2d(G.trivial(1), G.regular(1), 3, padding=1),
                                     enn.GroupPool(G.regular(1)))
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    rc = main(["check", "rgb_models:rgb", "--channels", "3", "--size", "11"])
    out = capsys.readouterr().out
    assert rc == 0 and "Cyclic(4).trivial(3) -> Cyclic(4).trivial(1)" in out and "PASSED" in out
