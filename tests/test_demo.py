"""``python -m ferrograd demo`` and the two-moons data it trains on."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ferrograd import _engines, demo
from ferrograd.__main__ import main
from ferrograd.datasets import make_moons
from ferrograd.nn import MLP


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ferrograd", "demo", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# ------------------------------------------------------------------------------------------------
# Data.
# ------------------------------------------------------------------------------------------------


def test_moons_shape_labels_and_balance() -> None:
    X, y = make_moons(101, noise=0.1, seed=3)
    assert X.shape == (101, 2) and y.shape == (101,)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert set(y.tolist()) == {-1.0, 1.0}
    assert (y < 0).sum() == 51 and (y > 0).sum() == 50


def test_moons_without_noise_lie_on_their_half_circles() -> None:
    X, y = make_moons(60, noise=0.0, seed=0)
    upper, lower = X[y < 0], X[y > 0]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, rtol=1e-12)
    assert (upper[:, 1] >= -1e-12).all()
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, rtol=1e-12)
    assert (lower[:, 1] <= 0.5 + 1e-12).all()


def test_moons_are_reproducible_and_seeded() -> None:
    a, b = make_moons(50, seed=1), make_moons(50, seed=1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(make_moons(50, seed=2)[0], a[0])


def test_moons_noise_has_the_requested_spread() -> None:
    clean, labels = make_moons(4000, noise=0.0, seed=5)
    noisy, same = make_moons(4000, noise=0.1, seed=5)
    np.testing.assert_array_equal(labels, same)  # same shuffle; only the noise differs
    assert np.std(noisy - clean) == pytest.approx(0.1, rel=0.05)


def test_moons_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n must be >= 2"):
        make_moons(1)
    with pytest.raises(TypeError, match="n must be an int"):
        make_moons(10.0)
    with pytest.raises(ValueError, match="noise"):
        make_moons(10, noise=-0.1)


# ------------------------------------------------------------------------------------------------
# Training.
# ------------------------------------------------------------------------------------------------


def test_default_seed_trains_to_full_accuracy_within_100_steps() -> None:
    X, y = make_moons(demo.POINTS, noise=demo.NOISE, seed=demo.DEFAULT_SEED)
    model = MLP(2, demo.SIZES, seed=demo.DEFAULT_SEED)
    result = demo.train(model, X.tolist(), y.tolist(), steps=100, progress=False)
    assert result.accuracy == 1.0
    assert 1 <= result.steps <= 100
    assert len(result.history) == result.steps + 1
    # Checked independently of the training loop: every point's score has its label's sign.
    assert all((model(x).data > 0) == (label > 0) for x, label in zip(X, y))
    assert result.loss < result.history[0][0]


def test_training_through_the_tape_takes_the_graphs_steps() -> None:
    X, y = make_moons(demo.POINTS, noise=demo.NOISE, seed=demo.DEFAULT_SEED)
    graph = MLP(2, demo.SIZES, seed=demo.DEFAULT_SEED)
    tape = MLP(2, demo.SIZES, seed=demo.DEFAULT_SEED)
    expected = demo.train(graph, X.tolist(), y.tolist(), steps=100, progress=False)
    result = demo.train_tape(tape, X.tolist(), y.tolist(), steps=100, progress=False)
    assert result.steps == expected.steps and result.accuracy == expected.accuracy == 1.0
    assert len(result.step_seconds) == result.steps
    for (loss, acc), (want_loss, want_acc) in zip(result.history, expected.history):
        assert acc == want_acc and loss == pytest.approx(want_loss, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(tape.flat_parameters(), graph.flat_parameters(), atol=1e-12)


def test_learning_rate_falls_from_one_towards_a_tenth() -> None:
    assert demo.learning_rate(0, 100) == 1.0
    assert demo.learning_rate(50, 100) == pytest.approx(0.55)
    assert demo.learning_rate(99, 100) == pytest.approx(0.109)


def test_time_engines_times_both_and_finds_identical_gradients() -> None:
    X, y = make_moons(30, noise=0.1, seed=0)
    model = MLP(2, [8, 8, 1], seed=0)
    cmp = demo.time_engines(model, X.tolist(), y.tolist(), repeats=1)
    assert cmp.engine == "rust" and cmp.other == "reference"
    assert cmp.max_relative_difference <= 1e-12
    assert any(p.grad != 0.0 for p in model.parameters())
    assert cmp.seconds > 0 and cmp.other_seconds > 0


def test_time_tape_times_both_paths_and_finds_the_same_gradient() -> None:
    X, y = make_moons(30, noise=0.1, seed=0)
    model = MLP(2, [8, 8, 1], seed=0)
    timing = demo.time_tape(model, X, y, repeats=1)
    assert timing.max_relative_difference <= 1e-12
    assert timing.tape_seconds > 0 and timing.graph_seconds > 0
    assert timing.speedup == timing.graph_seconds / timing.tape_seconds
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        demo.time_tape(model, X, y, repeats=0)


def test_relative_difference() -> None:
    assert demo.relative_difference(0.0, 0.0) == 0.0
    assert demo.relative_difference(1.0, 1.0 + 1e-12) == pytest.approx(1e-12, rel=1e-3)
    assert demo.relative_difference(-2.0, 2.0) == 2.0
    assert demo.relative_difference(1.0, float("nan")) == float("inf")


# ------------------------------------------------------------------------------------------------
# The command.
# ------------------------------------------------------------------------------------------------


def test_demo_command_trains_to_100_percent_and_compares_engines() -> None:
    proc = run_demo()
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    steps = re.search(r"reached 100% training accuracy after (\d+) steps", out)
    assert steps is not None, out
    assert int(steps.group(1)) <= 100
    assert re.search(r"accuracy 100%, [0-9.]+ ms per step", out)
    assert re.search(r"rust +[0-9.]+ ms", out) and re.search(r"reference +[0-9.]+ ms", out)
    diff = re.search(r"largest relative gradient difference over 337 parameters: (\S+)", out)
    assert diff is not None and float(diff.group(1)) <= 1e-12
    assert re.search(r"speedup of rust over reference: [0-9.]+x", out)


def test_demo_help_documents_every_option() -> None:
    proc = run_demo("--help")
    assert proc.returncode == 0
    for option in ("--engine", "--seed", "--steps", "--plot", "--no-progress", "reference"):
        assert option in proc.stdout
    # The description is shown as written: argparse does not %-format it, so "%%" would show.
    assert "until 100% training accuracy" in " ".join(proc.stdout.split())
    assert "%%" not in proc.stdout


def test_demo_on_the_reference_engine_compares_against_rust(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--engine", "reference", "--steps", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "reference engine" in out
    assert "stopped after 2 steps" in out or "reached 100%" in out
    assert re.search(r"largest relative gradient difference over 337 parameters: (\S+)", out)


@pytest.mark.parametrize("engine", _engines.NAMES)
def test_demo_tape_trains_through_the_tape(engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--tape", "--engine", engine, "--steps", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "through the tape" in out and f"{engine} engine" in out
    assert re.search(r"accuracy \d+%, \d+\.\d+ ms per step \(median \d+\.\d+ ms\)", out)
    found = re.search(r"largest relative gradient difference over 337 parameters: (\S+)", out)
    assert found and float(found.group(1)) < 1e-9


def test_demo_seed_changes_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--seed", "4", "--steps", "1", "--no-progress"]) == 0
    assert "seed 4" in capsys.readouterr().out


def test_demo_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["demo", "--steps", "0"])
    assert exit.value.code == 2
    assert "--steps" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["demo", "--engine", "torch"])


def test_demo_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "moons.png"
    assert main(["demo", "--steps", "5", "--no-progress", "--plot", str(path)]) == 0
    assert path.exists()
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    assert str(path) in capsys.readouterr().out
