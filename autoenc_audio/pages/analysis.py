"""The analysis page (`aea analyze` writes `index.html` beside `report.md`): every table and figure, and
nearest-neighbour lists as players, so "these clips are close in latent space" can be heard.

The probes' views and their titles come from the caller (`analysis.dataset.VIEW_TITLES`): pages sit
below the packages that write them and import none of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import counted
from ..metric_info import accuracy_interval, format_value
from .html import Page, audio_player, document, facts, figure, section, table, text, write_page

FIGURES = (
    ("pca_2d", "PCA, 2-D (x: test clips)"),
    ("pca_3d", "PCA, 3-D"),
    ("tsne", "t-SNE"),
    ("explained_variance", "explained variance"),
    ("kmeans_curve", "k-means elbow and silhouette"),
    ("confusion", "confusion matrices"),
    ("latent_statistics", "per-dimension statistics"),
)
COMPARISON = (
    ("run", "run"),
    ("latent_size", "N"),
    ("snr_db", "own test SNR (dB)"),
    ("latent_logistic", "latent"),
    ("latent_pooled_logistic", "latent pooled"),
    ("raw_waveform_logistic", "raw waveform"),
    ("log_mel_logistic", "log-mel"),
    ("latent_tree", "latent (tree)"),
    ("chance_majority", "test chance (majority)"),
    ("chance_uniform", "chance (1/k)"),
    ("latent_logistic_cv", "latent (cv)"),
    ("cv_chance_majority", "cv chance (majority)"),
    ("latent_homogeneity", "k-means homogeneity"),
    ("latent_neighbour", "NN label agreement"),
)
"""The comparison's columns: each cross-validated accuracy sits beside the chance its folds give, as the test
accuracies beside the test split's (on unbalanced labels the two differ: 0.96 against 0.75)."""


def _probes_table(probes: Mapping[str, Any], view_titles: Mapping[str, str]) -> str:
    rows = []
    for view, title in view_titles.items():
        if view in probes:
            p = probes[view]
            low, high = p["logistic"]["accuracy_95"]
            rows.append(
                [
                    title,
                    p["logistic"]["accuracy"],
                    f"[{format_value(low)}, {format_value(high)}]",
                    p["logistic"]["balanced_accuracy"],
                    p["logistic"].get("cv", {}).get("accuracy"),
                    p["logistic"].get("cv", {}).get("balanced_accuracy"),
                    p["tree"]["accuracy"],
                    p["kmeans"].get("homogeneity"),  # absent when k-means was skipped: "–"
                    p["kmeans"].get("v_measure"),
                    p["neighbour_agreement"],
                ]
            )
    return _chance_html(probes) + table(
        [
            "view",
            "logistic acc.",
            "95 %",
            "balanced",
            "cv acc.",
            "cv balanced",
            "tree acc.",
            "homogeneity",
            "V-measure",
            "NN agreement",
        ],
        rows,
    )


def _chance_html(probes: Mapping[str, Any]) -> str:
    """What an accuracy is worth here: the chance levels and the interval the test tracks allow (as report.md)."""
    chance = probes["chance"]
    return (
        f"<p>Chance: {chance['majority']:.2f} (always the training majority label), {chance['uniform']:.2f} (1/k). "
        f"Test: {counted(probes['test_clips'], 'clip')} from {counted(probes['test_tracks'], 'track')}, so a 95 % "
        f"interval on an accuracy is roughly ±{accuracy_interval(probes['test_tracks']):.2f} when clips of one track "
        "agree.</p>" + "".join(f"<p>{text(note)}</p>" for note in probe_notes(probes))
    )


def probe_notes(probes: Mapping[str, Any]) -> list[str]:
    """What else an accuracy must be read against, as plain sentences for the page and report.md alike: the
    chance levels the cross-validation faces (on unbalanced labels a probe that always answers the majority
    scores far above the test split's chance), test labels no probe was trained on, k-means skipped."""
    notes = []
    if cv := probes.get("cv_chance"):
        notes.append(
            f"Cross-validation chance: {cv['majority']:.2f} ± {cv['majority_std']:.2f} (always the training fold's "
            f"majority label, mean over {counted(cv['folds'], 'fold')}), {cv['uniform']:.2f} (1/k): the cv accuracies "
            "are compared with these, not with the test split's. Cv balanced accuracy is the mean recall per label "
            f"over the pooled out-of-fold predictions ({cv['balanced']:.2f} for the majority predictor)."
        )
    if unseen := probes.get("test_labels_not_trained"):
        notes.append(
            f"No training clips for the test label{'s' if len(unseen) > 1 else ''} {', '.join(unseen)}: a probe "
            "answers only the labels it was trained on, so these test clips score 0 by construction."
        )
    for scores in probes.values():
        if isinstance(scores, Mapping) and (skipped := scores.get("kmeans", {}).get("skipped")):
            notes.append(f"k-means skipped: {skipped}.")
            break  # every view has the same labelled clips: one reason for all
    return notes


def _neighbours_html(page: Page, entries: list[Mapping[str, Any]], ident: str) -> str:
    parts = []
    for k, entry in enumerate(entries):
        query = audio_player(
            page,
            page.folder / entry["audio"] if entry.get("audio") else None,
            f"{entry['clip']} ({entry['label']})",
            f"{ident}-{k}",
        )
        near = "".join(
            audio_player(
                page,
                page.folder / n["audio"] if n.get("audio") else None,
                f"{n['clip']} ({n['label']}, cosine {n['cosine']:.3f})",
                f"{ident}-{k}-{j}",
            )
            for j, n in enumerate(entry["neighbours"])
        )
        parts.append(
            f'<div class="card-inner"><h3>{text(entry["clip"])}</h3>{query}<p>its nearest clips from other '
            f"tracks:</p>{near}</div>"
        )
    return "".join(parts)


def _model_html(page: Page, result: Mapping[str, Any], number: int, view_titles: Mapping[str, str]) -> str:
    clips = result["clips"]
    summary = facts(
        [
            ("model", result["model"]),
            ("architecture", f"{result['arch']} / {result['kind']}"),
            ("latent", result["latent_layout"]),
            ("clips (train/val/test)", f"{clips['train']}/{clips['validation']}/{clips['test']}"),
            ("tracks", result["tracks"]),
            ("labels", result["labels"]),
        ]
    )
    probes = result["probes"]
    body = summary + (
        _probes_table(probes, view_titles)
        if "chance" in probes
        else f"<p>Probes skipped: {text(probes.get('skipped'))}.</p>"
    )
    stats = result["latent_statistics"]
    body += (
        f"<p>{stats['near_constant']} of {stats['dims']} latent dimensions are nearly constant; "
        f"{result['pca']['components_for_90'] or 'more than ' + str(len(result['pca']['explained_variance']))} "
        "principal components hold 90 % of the variance.</p>"
    )
    body += (
        '<div class="figures">'
        + "".join(
            figure(page, page.folder / result["figures"][key], caption, caption)
            for key, caption in FIGURES
            if key in result["figures"]
        )
        + "</div>"
    )
    if result["neighbours"]:
        body += "<h2>Close in latent space: listen</h2>" + _neighbours_html(page, result["neighbours"], f"m{number}")
    return section(f"N = {result['latent_size']}: {Path(result['model']).parent.name}", body, f"model{number}")


def _data_text(results: Sequence[Mapping[str, Any]]) -> str:
    """The data folder, or each model's ("a: songs/; b: other/") when they differ."""
    if len({result.get("data") for result in results}) == 1:
        return str(results[0].get("data"))
    return "different data (" + "; ".join(f"{result.get('run')}: {result.get('data')}" for result in results) + ")"


ANALYSIS_TITLE = "aea analyze"
"""The title of `aea analyze`'s page, by which it knows its own page again (`pages/folders.py`)."""


def write_analysis_page(analysis: Mapping[str, Any], path: str | Path, view_titles: Mapping[str, str]) -> Path:
    """`path` (an `index.html`) showing `analysis` (as `run_analysis` returns it); `view_titles`: each probed
    view's key -> its title, in the order the probe tables list them."""
    page = Page(Path(path))
    results = analysis["models"]
    lede = (
        f"{counted(len(results), 'model')} on {_data_text(results)}: label probes "
        "(trained on the training split, scored on the test split, split by track), k-means, maps and neighbours."
    )
    rows = analysis["comparison"]
    body = ""
    if any("chance_majority" in row for row in rows):  # a row per model, "–" where a model has no probes
        body += section(
            "Comparison across models (test accuracy of the logistic probe)",
            table([label for _, label in COMPARISON], [[row.get(key) for key, _ in COMPARISON] for row in rows]),
        )
    body += "".join(_model_html(page, result, k, view_titles) for k, result in enumerate(results))
    return write_page(page, document(ANALYSIS_TITLE, lede, body))
