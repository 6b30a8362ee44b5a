"""What `aea analyze` writes (report.md, analysis.json, index.html) on data where the numbers need framing: models
without labels beside labelled ones, one track per label, silent clips."""

import html
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from autoenc_audio.analysis.analyse import run_analysis
from autoenc_audio.analysis.dataset import VIEW_TITLES
from autoenc_audio.analysis.markdown import render_report
from autoenc_audio.metric_info import format_value
from autoenc_audio.pages.analysis import write_analysis_page


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, write_songs, make_checkpoint) -> tuple[Path, Path, Path]:
    """(root, a run on labelled songs, a run on the same songs without label folders): tiny untrained models,
    each with the run.json that names its data."""
    root = tmp_path_factory.mktemp("analysis")
    songs = write_songs(root / "songs", labels=("low", "high"), tracks=3)
    flat = root / "flat"
    flat.mkdir()
    for path in songs.glob("*/*.wav"):
        shutil.copy(path, flat / path.name)
    runs = []
    for name, data in (("lab", songs), ("flat", flat)):
        runs.append(make_checkpoint(data, root / "cache", root / name / "best.safetensors"))
        (root / name / "run.json").write_text(json.dumps({"data_root": str(data)}))
    return root, runs[0], runs[1]


def _table(text: str, heading: str) -> list[list[str]]:
    """The cells of the Markdown table under `heading` (header row first, the |---| row left out)."""
    lines = text.splitlines()
    start = lines.index(heading) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        if not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


COMPARISON = "## Comparison across latent sizes (test accuracy of the logistic probe)"


@pytest.mark.slow
def test_a_model_without_labels_gets_a_row_of_dashes_beside_the_labelled_one(two_runs):
    """A labelled model then an unlabelled one: KeyError 'chance_majority' after all the work, and no report; the
    other way round: no comparison table at all."""
    root, labelled, unlabelled = two_runs
    analysis = run_analysis([labelled, unlabelled], None, root / "cache", root / "mixed", tsne=False, cv_folds=2)
    for rows in (analysis["comparison"], analysis["comparison"][::-1]):  # the unlabelled model's row first, too
        shown = {**analysis, "comparison": rows}
        table = _table(render_report(shown), COMPARISON)
        assert [row[0] for row in table[1:]] == [row["run"] for row in rows]
        flat = table[1:][[row["run"] for row in rows].index("flat")]
        assert flat[table[0].index("latent")] == "–" and flat[table[0].index("latent (cv)")] == "–"
        lab = table[1:][[row["run"] for row in rows].index("lab")]
        assert lab[table[0].index("latent")] != "–"
        page = write_analysis_page(shown, root / "mixed" / "index.html", VIEW_TITLES).read_text()
        assert "Comparison across models" in page and page.count("<td>flat</td>") == 1
        assert page.count("<td>lab</td>") == 1
    assert (root / "mixed" / "report.md").read_text() == render_report(analysis)


@pytest.mark.slow
def test_the_cross_validated_accuracy_sits_beside_its_own_chance(two_runs):
    """The cv column was shown beside the test split's chance only: on unbalanced labels the cv probe equalled the
    majority predictor (0.96) and looked far above the test split's 0.75."""
    root, labelled, _ = two_runs
    analysis = run_analysis([labelled], None, root / "cache", root / "cv", tsne=False, cv_folds=2)
    probes = analysis["models"][0]["probes"]
    cv = probes["latent"]["logistic"]["cv"]
    assert {"chance_majority", "chance_uniform", "chance_balanced"} <= set(cv)
    assert probes["cv_chance"]["majority"] == cv["chance_majority"]
    report = (root / "cv" / "report.md").read_text()
    header, row = _table(report, COMPARISON)
    beside = header.index("latent (cv)") + 1
    assert header[beside] == "cv chance (majority)" and row[beside] == format_value(cv["chance_majority"])
    note = next(line for line in report.splitlines() if line.startswith("Cross-validation chance: "))
    assert f"{cv['chance_majority']:.2f} ± " in note and "pooled out-of-fold predictions" in note
    page = html.unescape((root / "cv" / "index.html").read_text())
    assert note in page and ">cv chance (majority)</th>" in page and ">cv balanced</th>" in page


@pytest.mark.slow
def test_a_report_without_probes_says_nothing_of_cross_validation(two_runs):
    """Unlabelled data: report.md said "`cv` is 5-fold cross-validation" beside "Probes and k-means skipped"."""
    root, _, unlabelled = two_runs
    analysis = run_analysis([unlabelled], None, root / "cache", root / "flat-report", tsne=False, cv_folds=5)
    report = (root / "flat-report" / "report.md").read_text()
    assert "Probes and k-means skipped" in report
    assert "cross-validation" not in report and "`cv`" not in report
    assert "cross-validation" not in (root / "flat-report" / "index.html").read_text()
    assert analysis["comparison"][0].get("latent_logistic_cv") is None


@pytest.mark.slow
def test_one_track_per_label_skips_k_means_and_names_the_test_label_never_trained_on(two_runs, write_songs, tmp_path):
    """Six labels of one 1-clip track: k-means' error ended the analysis after all the work, with no report; the
    test label had no training clip, so every probe scored 0 by construction, and nothing said so."""
    root, labelled, _ = two_runs
    single = write_songs(tmp_path / "single", labels=tuple("abcdef"), tracks=1, seconds=1.2)
    analysis = run_analysis([labelled], single, root / "cache", tmp_path / "report", tsne=False, cv_folds=2)
    probes = analysis["models"][0]["probes"]
    assert "more clips than clusters" in probes["latent"]["kmeans"]["skipped"]
    unseen = probes["test_labels_not_trained"]
    assert len(unseen) == 1 and probes["latent"]["logistic"]["accuracy"] == 0
    report = (tmp_path / "report" / "report.md").read_text()
    page = html.unescape((tmp_path / "report" / "index.html").read_text())
    for text in (report, page):
        assert f"No training clips for the test label {unseen[0]}: a probe answers only" in text
        assert "k-means skipped: k-means needs at least 2 labels and more clips than clusters" in text
    assert json.loads((tmp_path / "report" / "analysis.json").read_text())["models"][0]["probes"] == probes


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")  # PCA of constant latents
def test_silent_clips_give_null_not_nan_in_analysis_json(two_runs, tmp_path):
    """Constant latents leave the k-means silhouette undefined: analysis.json held a bare NaN, which JSON.parse,
    Go and serde refuse."""
    root, labelled, _ = two_runs
    for label in ("a", "b"):
        (tmp_path / "silence" / label).mkdir(parents=True)
        for number in range(3):
            soundfile.write(tmp_path / "silence" / label / f"{number}.wav", np.zeros(16000, np.float32), 8000)
    run_analysis([labelled], tmp_path / "silence", root / "cache", tmp_path / "report", tsne=False, cv_folds=2)
    analysis = json.loads((tmp_path / "report" / "analysis.json").read_text(), parse_constant=_refuse)
    model = analysis["models"][0]
    assert model["probes"]["latent"]["kmeans"]["silhouette"] is None
    assert model["kmeans_curve"]["silhouette"] and set(model["kmeans_curve"]["silhouette"]) == {None}


@pytest.mark.slow
def test_an_interrupted_rerun_leaves_no_earlier_page_over_its_new_figures(two_runs, monkeypatch):
    """Figures are replaced under their final names: a rerun interrupted before its page left the earlier page,
    report and JSON describing the new figures, looking complete. They now go before any new file is written."""
    from autoenc_audio.analysis import analyse

    root, _, unlabelled = two_runs
    out = root / "rerun-report"
    run_analysis([unlabelled], None, root / "cache", out, tsne=False, cv_folds=2)
    assert {"index.html", "report.md", "analysis.json"} <= {path.name for path in out.iterdir()}

    def interrupted(analysis, out_dir):
        raise KeyboardInterrupt

    monkeypatch.setattr(analyse, "_write_analysis", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_analysis([unlabelled], None, root / "cache", out, tsne=False, cv_folds=2)
    assert not {"index.html", "report.md", "analysis.json"} & {path.name for path in out.iterdir()}
    assert list(out.rglob("*.png")), "the new figures were written"
