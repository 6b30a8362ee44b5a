"""The Markdown report of an analysis: a comparison across models, then one section per model."""

from __future__ import annotations

from typing import Any

from ..errors import counted
from ..metric_info import accuracy_interval, format_value
from ..pages.analysis import probe_notes
from .dataset import VIEW_TITLES, VIEWS
from .stats import CLUSTER_DIMS, NEAR_CONSTANT, PROBE_DIMS


def _cv_text(analysis: dict[str, Any]) -> str | None:
    """What `cv` means in a report, with the number of folds actually scored when it differs from the setting;
    None when no model was probed (nothing to cross-validate), so the report claims no cross-validation."""
    if not any("chance" in result["probes"] for result in analysis["models"]):
        return None
    asked = analysis["settings"]["cv_folds"]
    if asked < 2:
        return "no cross-validation (`--cv-folds` below 2)"
    used = sorted(
        {
            probes[view][kind]["cv"]["folds"]
            for probes in (result["probes"] for result in analysis["models"])
            for view in VIEWS
            if view in probes
            for kind in ("logistic", "tree")
            if "folds" in probes[view][kind].get("cv", {})
        }
    )
    if not used:
        return f"no cross-validation ({_cv_skipped(analysis)})"
    folds = (
        f"{asked}-fold"
        if used == [asked]
        else (
            f"{'/'.join(map(str, used))}-fold (of {asked} asked: no more folds than the label with the most tracks "
            f"has tracks, and only folds with two labels to train on count)"
        )
    )
    return (
        f"`cv` is {folds} cross-validation stratified by label, grouped by track, over every labelled clip, "
        "compared with its own chance (`cv chance`: always answering the training fold's majority label, mean over "
        "the folds); cv balanced accuracy is over the pooled out-of-fold predictions"
    )


def _cv_skipped(analysis: dict[str, Any]) -> str:
    """Why no fold was scored, as the first skipped cross-validation says."""
    for result in analysis["models"]:
        for view in VIEWS:
            reason = result["probes"].get(view, {}).get("logistic", {}).get("cv", {}).get("skipped")
            if reason:
                return str(reason)
    return "no fold was scored"


REPORT_HEADING = "# Latent analysis"
"""The report's first line, by which `aea analyze` knows its own report.md again (`pages/folders.py`)."""


def render_report(analysis: dict[str, Any]) -> str:
    """The Markdown report: comparison across models, then one section per model."""
    results = analysis["models"]
    lines = [REPORT_HEADING, ""]
    lines += [
        f"{_data_text(results)} Probes are trained on the training split and scored on the test split (split by track, as in "
        f"training){'; ' + cv if (cv := _cv_text(analysis)) else ''}. Feature sets above {PROBE_DIMS} dimensions are reduced to {PROBE_DIMS} "
        f"principal components fitted on the training clips before probing; k-means runs on "
        f"{CLUSTER_DIMS} principal components. Analysis took {analysis['seconds']:.0f} s.",
        "",
    ]
    rows = analysis["comparison"]
    if any("chance_majority" in row for row in rows):  # a row per model, "–" where a model has no probes
        lines += [
            "## Comparison across latent sizes (test accuracy of the logistic probe)",
            "",
            "| run | N | own test SNR (dB) | latent | latent pooled | raw waveform | log-mel | latent (tree) "
            "| test chance (majority / 1/k) | latent (cv) | cv chance (majority) | k-means homogeneity "
            "| nearest-neighbour label agreement |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in rows:  # the SNR is each checkpoint's, on the test tracks of the data it was trained on
            lines.append(
                f"| {row.get('run', '')} | {row['latent_size']} | {format_value(row['snr_db'], 1)} | {format_value(row.get('latent_logistic'))} | "
                f"{format_value(row.get('latent_pooled_logistic'))} | {format_value(row.get('raw_waveform_logistic'))} | "
                f"{format_value(row.get('log_mel_logistic'))} | {format_value(row.get('latent_tree'))} | "
                f"{format_value(row.get('chance_majority'))} / {format_value(row.get('chance_uniform'))} | "
                f"{format_value(row.get('latent_logistic_cv'))} | {format_value(row.get('cv_chance_majority'))} | "
                f"{format_value(row.get('latent_homogeneity'))} | {format_value(row.get('latent_neighbour'))} |"
            )
        lines += ["", "Own test SNR: each model's, measured after training on the test tracks of its own data.", ""]
    for result in results:
        lines += _model_section(result)
    return "\n".join(lines) + "\n"


def _data_text(results: list[dict[str, Any]]) -> str:
    """The data the models were analysed on: one folder, or each model's when they differ."""
    first = results[0]
    if len({result.get("data") for result in results}) == 1:
        return f"Data: `{first.get('data')}`, labels: {', '.join(first['labels']) or '(none)'}."
    each = "; ".join(
        f"`{result.get('run')}` on `{result.get('data')}` (labels: {', '.join(result['labels']) or '(none)'})"
        for result in results
    )
    return f"Data: the models were analysed on different data, so their rows compare different clips: {each}."


def _probe_lines(probes: dict[str, Any]) -> list[str]:
    """The chance levels, the notes on what the scores are worth, and a row per probed view; or why none ran."""
    if "chance" not in probes:
        return [f"Probes and k-means skipped: {probes.get('skipped')}.", ""]
    chance = probes["chance"]
    lines = [
        f"Chance: {chance['majority']:.2f} (always the training majority label), {chance['uniform']:.2f} (1/k). "
        f"Test: {counted(probes['test_clips'], 'clip')} from {counted(probes['test_tracks'], 'track')}, so a 95 % interval on an "
        f"accuracy is roughly ±{accuracy_interval(probes['test_tracks']):.2f} when clips of one track agree.",
        "",
    ]
    for note in probe_notes(probes):
        lines += [note, ""]
    lines += [
        "| view | logistic acc. [95 %] | balanced | cv acc. ± std | cv balanced | tree acc. | balanced | cv acc. "
        "| homogeneity | completeness | V-measure | ARI | NN agreement |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for view in VIEWS:
        if view not in probes:
            continue
        p = probes[view]
        lo, hi = p["logistic"]["accuracy_95"]
        cv_l, cv_t = p["logistic"].get("cv", {}), p["tree"].get("cv", {})
        k = p["kmeans"]  # only `skipped` when k-means could not run: its columns read "–"
        lines.append(
            f"| {VIEW_TITLES[view]} | {format_value(p['logistic']['accuracy'])} [{format_value(lo)}, {format_value(hi)}] | "
            f"{format_value(p['logistic']['balanced_accuracy'])} | {format_value(cv_l.get('accuracy'))} ± {format_value(cv_l.get('accuracy_std'))} | "
            f"{format_value(cv_l.get('balanced_accuracy'))} | "
            f"{format_value(p['tree']['accuracy'])} | {format_value(p['tree']['balanced_accuracy'])} | {format_value(cv_t.get('accuracy'))} | "
            f"{format_value(k.get('homogeneity'))} | {format_value(k.get('completeness'))} | {format_value(k.get('v_measure'))} | "
            f"{format_value(k.get('adjusted_rand'))} | {format_value(p['neighbour_agreement'])} |"
        )
    return lines + [
        "",
        "NN agreement: share of test clips whose most cosine-similar clip from another track has the same label.",
        "",
    ]


def _model_section(result: dict[str, Any]) -> list[str]:
    figures = result["figures"]
    clips = result["clips"]
    lines = [
        f"## N = {result['latent_size']}: `{result['model']}`",
        "",
        f"{result['arch']} / {result['kind']}, latent {result['latent_layout']}. "
        f"Clips: {clips['train']} train, {clips['validation']} validation, {clips['test']} test "
        f"from {counted(result['tracks'], 'track')}.",
        "",
    ]
    lines += _probe_lines(result["probes"])
    stats = result["latent_statistics"]
    pca = result["pca"]
    lines += [
        f"Latent statistics: {stats['near_constant']} of {stats['dims']} dimensions nearly constant "
        f"(std below {NEAR_CONSTANT:g} x the median std {stats['median_std']:.3g}); "
        f"{pca['components_for_90'] or 'more than ' + str(len(pca['explained_variance']))} principal components "
        f"hold 90 % of the variance.",
        "",
    ]
    for key, caption in (
        ("pca_2d", "PCA, 2-D (x: test clips)"),
        ("pca_3d", "PCA, 3-D"),
        ("tsne", "t-SNE"),
        ("explained_variance", "explained variance"),
        ("kmeans_curve", "k-means elbow and silhouette"),
        ("confusion", "confusion matrices"),
        ("latent_statistics", "per-dimension statistics"),
    ):
        if key in figures:
            lines += [f"![{caption}]({figures[key]})", ""]
    if result["neighbours"]:
        lines += ["Nearest clips from other tracks (cosine similarity of the latents):", ""]
        for entry in result["neighbours"]:
            found = "; ".join(f"`{n['clip']}` ({n['label']}, {n['cosine']:.3f})" for n in entry["neighbours"])
            lines.append(f"- `{entry['clip']}` ({entry['label']}): {found}")
        lines.append("")
    return lines
