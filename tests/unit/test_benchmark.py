"""`dlbook bench`: the pieces (matmul probe, one model's timing, memory, the JSON and the
Markdown table, the book page's include list) on tiny models and sizes; the reference models
themselves are only built and counted here, never trained (that is the benchmark's job)."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from dlbook import benchmark
from dlbook.cli import main
from dlbook.cost import count_flops

keras = benchmark.keras
ROOT = Path(__file__).resolve().parents[2]


def tiny_reference(name="tiny", batch=8):
    return benchmark.Reference(
        name, "Dense 6-16-3",
        lambda: keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                                  keras.layers.Dense(3)]),
        (6,), batch=batch, classes=3)


@pytest.fixture(scope="module")
def result():
    """One whole (tiny) benchmark run, shared by the tests that read its result."""
    refs = {"tiny": tiny_reference(), "wide": tiny_reference("wide", batch=32)}
    return benchmark.run_benchmark(steps=2, warmup=1, matmul_n=64, references=refs)


# --- the probe and one model ------------------------------------------------------------------


def test_matmul_probe_counts_two_n_cubed_flops_and_reports_the_fastest_run():
    probe = benchmark.matmul_throughput(96, repeats=3)
    assert probe["flops"] == 2 * 96**3 and probe["n"] == 96
    assert 0 < probe["best_s"] <= probe["median_s"]
    assert probe["gflop_per_s"] == pytest.approx(probe["flops"] / probe["best_s"] / 1e9)


@pytest.mark.parametrize("bad", [0, -4, 2.5, True])
def test_matmul_probe_rejects_a_bad_size(bad):
    with pytest.raises(ValueError, match="n \\(the matrix size\\) must be a positive int"):
        benchmark.matmul_throughput(bad)


def test_time_training_times_the_steps_and_counts_the_models_training_flops():
    ref = tiny_reference()
    row = benchmark.time_training(ref, steps=2, warmup=1)
    assert row["steps"] == 2 and row["batch"] == 8 and row["params"] == 6 * 16 + 16 + 16 * 3 + 3
    assert 0 < row["step_s_best"] <= row["step_s_median"]
    assert row["samples_per_s"] == pytest.approx(8 / row["step_s_median"])
    assert row["train_flops_per_example"] == count_flops(ref.build()).training > 0
    assert row["flops_not_counted"] == [] and row["peak_gpu_mib"] is None
    assert np.isfinite(row["final_loss"]) and row["peak_rss_mib"] > 50


def test_time_training_needs_a_warmup_step_because_the_first_one_traces():
    with pytest.raises(ValueError, match="warmup .* must be a positive int"):
        benchmark.time_training(tiny_reference(), steps=2, warmup=0)


def test_peak_rss_rises_with_an_allocation_after_a_reset():
    if not benchmark.reset_peak_rss():
        pytest.skip("no /proc/self/clear_refs here: the peak cannot be reset")
    before = benchmark.peak_rss_mib()
    block = np.ones(96 * 2**20 // 8)  # 96 MiB, touched
    assert benchmark.peak_rss_mib() >= before + 80
    del block


def test_every_reference_model_builds_takes_its_batch_and_is_fully_counted():
    for name, ref in benchmark.REFERENCE_MODELS.items():
        model = ref.build()
        x, y = ref.batch_data(batch=2)
        assert model(x).shape == (2, ref.classes), name
        assert y.max() < ref.classes
        flops = count_flops(model, x[:1])
        assert flops.unknown == [], f"{name}: no FLOP rule for {flops.unknown}: MFU would undercount"
        assert flops.training > 2 * flops.forward, name


def test_an_unknown_model_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown reference model.*'resnet'.*mlp, cnn, lstm"):
        benchmark.run_benchmark(["resnet"])


# --- the result -------------------------------------------------------------------------------


def test_a_run_is_a_valid_result_whose_mfu_uses_the_measured_matmul(result):
    assert benchmark.validate(result) == result
    assert [row["name"] for row in result["models"]] == ["tiny", "wide"]
    assert result["kind"] == benchmark.machine_kind(result["machine"])
    assert result["machine"]["cores"] >= 1 and result["machine"]["cpu"]
    assert result["matmul"]["n"] == 64 and "keras" in result["versions"]
    peak = result["matmul"]["gflop_per_s"]
    for row in result["models"]:
        flops_per_s = row["train_flops_per_example"] * row["samples_per_s"]
        assert row["model_gflop_per_s"] == pytest.approx(flops_per_s / 1e9)
        assert row["mfu"] == pytest.approx(flops_per_s / 1e9 / peak)
    json.dumps(result)  # JSON-ready as it is


@pytest.mark.parametrize("break_it, message", [
    (lambda r: r.pop("matmul"), "result has no 'matmul'"),
    (lambda r: r["models"][0].update(mfu="high"), "models\\[0\\]\\['mfu'\\] must be float"),
    (lambda r: r["models"][1].update(samples_per_s=float("nan")), "must be finite and >= 0"),
    (lambda r: r["machine"].update(cores=-2), "machine\\['cores'\\] must be finite and >= 0"),
    (lambda r: r.update(schema=0), "re-run `dlbook bench`"),
    (lambda r: r.update(models=[]), "models is empty"),
])
def test_validate_names_what_is_wrong(result, break_it, message):
    broken = copy.deepcopy(result)
    break_it(broken)
    with pytest.raises(ValueError, match=message):
        benchmark.validate(broken)


def test_markdown_table_has_one_row_per_model_and_names_the_machine(result):
    text = benchmark.to_markdown(result)
    lines = text.splitlines()
    assert lines[0].startswith("### CPU: ") and f"{result['machine']['cores']} core" in lines[0]
    assert f"{result['matmul']['gflop_per_s']:,.1f} GFLOP/s" in text
    table = [ln for ln in lines if ln.startswith("|")]
    assert len(table) == 2 + 2  # header, rule, two models
    assert len({ln.count("|") for ln in table}) == 1, "every row needs the same columns"
    assert table[2].startswith("| tiny | 163 | 8 |") and "GPU" not in text


def test_markdown_adds_a_gpu_column_only_when_gpu_memory_was_measured(result):
    on_gpu = copy.deepcopy(result)
    on_gpu["machine"]["gpu"] = "NVIDIA H200"
    for row in on_gpu["models"]:
        row["peak_gpu_mib"] = 512.0
    text = benchmark.to_markdown(on_gpu)
    assert text.startswith("### GPU: NVIDIA H200 (host ") and "peak GPU (MiB)" in text
    assert text.splitlines()[-1].endswith("| 512 |")


def test_machine_kind_is_a_file_name_per_cpu_model_and_cores_or_per_gpu():
    assert benchmark.machine_kind({"cpu": "AMD EPYC 7763 64-Core Processor", "cores": 4,
                                   "gpu": None}) == "cpu-amd-epyc-7763-4core"
    assert benchmark.machine_kind({"cpu": "AMD EPYC", "cores": 2,
                                   "gpu": "NVIDIA A100-SXM4-40GB"}) == "gpu-nvidia-a100-sxm4-40gb"


# --- storing ------------------------------------------------------------------------------------


def page_with_markers(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# Benchmarks\n\nIntro.\n\n{benchmark.PAGE_BEGIN}\n{benchmark.PAGE_END}\n\nEnd.\n")
    return path


def test_write_results_stores_json_and_table_and_lists_every_table_on_the_page(result, tmp_path):
    out, page = tmp_path / "benchmarks", page_with_markers(tmp_path / "book" / "benchmarks.md")
    (out).mkdir()
    (out / "gpu-nvidia-h200.md").write_text("### GPU: H200\n")
    json_path, md_path = benchmark.write_results(result, out, page)
    assert json_path.name == f"{result['kind']}.json" and md_path.suffix == ".md"
    assert benchmark.validate(json.loads(json_path.read_text())) == result
    assert md_path.read_text() == benchmark.to_markdown(result) + "\n"
    text = page.read_text()
    cpu = text.index(f"```{{include}} ../benchmarks/{result['kind']}.md")
    assert cpu < text.index("```{include} ../benchmarks/gpu-nvidia-h200.md"), "CPU kinds first"
    assert text.startswith("# Benchmarks\n\nIntro.") and text.endswith("\n\nEnd.\n")
    assert benchmark.update_page(page, sorted(out.glob("*.md"))) is False, "idempotent"


def test_a_page_without_the_markers_is_refused_not_overwritten(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n")
    with pytest.raises(ValueError, match="dlbook bench: begin"):
        benchmark.update_page(page, [])
    assert page.read_text() == "# Benchmarks\n"


def test_the_bench_command_runs_writes_and_updates_the_page(tmp_path, monkeypatch, capsys):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/a/b\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    page = page_with_markers(tmp_path / "book" / "benchmarks.md")
    monkeypatch.setattr(benchmark, "REFERENCE_MODELS", {"tiny": tiny_reference()})
    code = main(["--root", str(tmp_path), "bench", "--steps", "2", "--warmup", "1",
                 "--matmul-size", "64", "--kind", "cpu-test-1core",
                 "--out", str(tmp_path / "benchmarks")])
    out = capsys.readouterr().out
    assert code == 0 and "| tiny |" in out and "GFLOP/s" in out
    stored = json.loads((tmp_path / "benchmarks" / "cpu-test-1core.json").read_text())
    assert stored["kind"] == "cpu-test-1core" and stored["settings"]["steps"] == 2
    assert "```{include} ../benchmarks/cpu-test-1core.md" in page.read_text()


@pytest.mark.parametrize("args, message", [
    (["--models", "resnet"], "unknown reference model"),
    (["--kind", "My Laptop"], "--kind names a file"),
])
def test_the_bench_command_reports_bad_arguments(args, message, capsys):
    assert main(["--root", str(ROOT), "bench", *args]) == 2
    assert message in capsys.readouterr().err


# --- what the repository holds -------------------------------------------------------------------


def test_stored_results_are_valid_and_their_tables_come_from_them():
    stored = sorted((ROOT / "benchmarks").glob("*.json"))
    assert stored, "run `make bench` and commit benchmarks/<machine-kind>.json and .md"
    for path in stored:
        result = benchmark.validate(json.loads(path.read_text()))
        assert path.stem == result["kind"]
        assert path.with_suffix(".md").read_text() == benchmark.to_markdown(result) + "\n", (
            f"{path.with_suffix('.md').name} differs from its JSON: re-run `dlbook bench`")


def test_the_book_page_includes_every_stored_table():
    page = (ROOT / "book" / "benchmarks.md").read_text()
    for table in sorted((ROOT / "benchmarks").glob("*.md")):
        assert f"```{{include}} ../benchmarks/{table.name}" in page, (
            f"book/benchmarks.md does not include {table.name}: run `dlbook bench` (it rewrites "
            "the include block)")
