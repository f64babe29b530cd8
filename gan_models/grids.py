"""Picture grids of generated images (the run's ``samples/epoch-NNNN.png``), without Keras."""

from __future__ import annotations

import numpy as np


def image_grid(images: np.ndarray, *, columns: int = 8) -> np.ndarray:
    """Tile images in [-1, 1] of shape (n, S, S) into one uint8 picture, 2-px dark gutters."""
    n, size = images.shape[0], images.shape[1]
    rows = -(-n // columns)
    gutter = 2
    grid = np.zeros((rows * (size + gutter) + gutter, columns * (size + gutter) + gutter), np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        y, x = gutter + r * (size + gutter), gutter + c * (size + gutter)
        grid[y:y + size, x:x + size] = np.round((np.clip(img, -1, 1) + 1) * 127.5).astype(np.uint8)
    return grid


def figure_png(fig, *, dpi: int = 110) -> bytes:
    """A matplotlib figure laid out tightly as PNG bytes; the figure is closed (galleries are
    made per checkpoint, and open figures would pile up)."""
    import io

    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()
