"""Why the gate answered: Grad-CAM of one scored recording and the audio it kept."""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["explain"]


def explain(stem: str, prep, model, label_index: int, segment_probs: np.ndarray, spectrogram,
            out_dir: Path) -> dict:
    """Grad-CAM of the most confident segment for the predicted class, and its masked-in audio.

    Parameters
    ----------
    stem : str
        File name stem of the outputs (``<stem>_gradcam.png``, ``<stem>_masked_in.wav``).
    prep : audiolens.inference.Prepared
        The recording's segments.
    model : keras.Model
    label_index : int
        Class explained.
    segment_probs : ndarray, shape (k, C)
    spectrogram : SpectrogramConfig
    out_dir : path

    Returns
    -------
    dict
        ``segment`` (index), ``gradcam_png``, ``masked_in_wav`` (paths as str).
    """
    from audiolens.attribution.masks import apply_mask, make_mask
    from audiolens.features import db_to_audio
    from audiolens.interpret.cam import grad_cam
    from audiolens.io import write_audio
    from audiolens.plots import new_figure, save_figure, show_spectrogram

    k = int(np.argmax(segment_probs[:, label_index]))
    x = prep.x[k]
    cam = grad_cam(model, x[None], class_index=np.array([label_index]))[0]
    mask = make_mask(cam, "minmax")
    masked = apply_mask(x, mask, floor_db=float(np.min(x)))
    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = new_figure(1, 3, size=(3.2, 2.6))
    show_spectrogram(ax[0, 0], x, title="input (dB)")
    show_spectrogram(ax[0, 1], cam, title="Grad-CAM", cmap="inferno")
    show_spectrogram(ax[0, 2], x, title="overlay")
    ax[0, 2].imshow(cam, origin="lower", aspect="auto", cmap="inferno", alpha=0.5)
    png = save_figure(fig, out_dir / f"{stem}_gradcam.png")
    audio = db_to_audio(masked, config=spectrogram, ref_amplitude=float(prep.ref_amplitude[k]),
                        length=prep.segments_audio.shape[1], source_audio=prep.segments_audio[k])
    wav = write_audio(out_dir / f"{stem}_masked_in.wav", audio, prep.sample_rate)
    return {"segment": k, "gradcam_png": str(png), "masked_in_wav": str(wav)}
