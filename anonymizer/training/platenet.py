"""platenet: the project's own plate detector. Network, loss, training loop and ONNX export (PyTorch: the ``train``
extra; the runtime never imports this module, it runs the exported file with ONNX Runtime).

The network is YuNet-sized (about 40 k parameters, 0.6 GMAC on a 1920x1088 frame): a depthwise-separable backbone
down to stride 32 for context, a light top-down path back to stride 4 (a 40 px plate is 10 px tall), and one
anchor-free head there, as TTFNet has it: an elliptical Gaussian heat map of plate centres and, around each centre,
the distances to the box's four sides. It is trained at the scale it runs (256 px pictures whose plates are as
large as in a frame at its own size), so it needs no enlarged look. Decoding is ``inference.platenet.decode``.

    python -m anonymizer.training.platenet --out models/platenet.onnx     # the recipe: models/platenet.toml
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
import tomllib
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from anonymizer.media.reader import rgb_frames
from anonymizer.training import plates as gen

log = logging.getLogger(__name__)
STRIDE = 4
ALPHA = 0.54  # TTFNet: the Gaussian's sigma is ALPHA * side / 6


class _DW(nn.Sequential):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class PlateNet(nn.Module):
    """RGB 0..255 NCHW (sides multiples of 32) -> (heat (N, 1, H/4, W/4) in 0..1, ltrb (N, 4, H/4, W/4) in
    input pixels: distances from each cell's centre to the box's left, top, right and bottom sides)."""

    def __init__(self, widths: tuple[int, ...] = (8, 24, 32, 64, 96), fpn: int = 16) -> None:
        super().__init__()
        c0, c1, c2, c3, c4 = widths
        self.stem = nn.Sequential(nn.Conv2d(3, c0, 3, 2, 1, bias=False), nn.BatchNorm2d(c0), nn.ReLU(inplace=True))
        self.s4 = nn.Sequential(_DW(c0, c1, 2), _DW(c1, c1))
        self.s8 = nn.Sequential(_DW(c1, c2, 2), _DW(c2, c2))
        self.s16 = nn.Sequential(_DW(c2, c3, 2), _DW(c3, c3), _DW(c3, c3))
        self.s32 = nn.Sequential(_DW(c3, c4, 2), _DW(c4, c4))
        self.lat = nn.ModuleList(nn.Conv2d(c, fpn, 1) for c in (c1, c2, c3, c4))
        self.head = _DW(fpn, fpn)
        self.heat = nn.Conv2d(fpn, 1, 1)
        self.box = nn.Conv2d(fpn, 4, 1)
        nn.init.constant_(self.heat.bias, -4.6)  # start at a prior of 1 %: the focal loss's usual start

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x * (1.0 / 128.0) - 1.0
        f4 = self.s4(self.stem(x))
        f8 = self.s8(f4)
        f16 = self.s16(f8)
        f32 = self.s32(f16)
        top = self.lat[3](f32)
        for lat, f in ((self.lat[2], f16), (self.lat[1], f8), (self.lat[0], f4)):
            top = lat(f) + F.interpolate(top, scale_factor=2.0, mode="nearest")
        y = self.head(top)
        heat = torch.sigmoid(self.heat(y))
        ltrb = torch.exp(self.box(y).clamp(max=6.0)) * (4.0 * STRIDE)
        return heat, ltrb


def targets(boxes: np.ndarray, size: int,
            ignore: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """TTFNet targets on the stride-``STRIDE`` grid of a ``size`` square picture: heat (g, g), ltrb (4, g, g) in
    pixels, box weights (g, g), and where the heat counts (g, g: 0 inside ``ignore`` boxes, unless a plate is
    there). Each plate's elliptical Gaussian is 1 on the cell holding its centre, and under 1 elsewhere."""
    g = size // STRIDE
    care = np.ones((g, g), np.float32)
    for x1, y1, x2, y2 in (() if ignore is None else ignore):
        care[int(y1 // STRIDE) : int(np.ceil(y2 / STRIDE)), int(x1 // STRIDE) : int(np.ceil(x2 / STRIDE))] = 0
    heat = np.zeros((g, g), np.float32)
    ltrb = np.zeros((4, g, g), np.float32)
    weight = np.zeros((g, g), np.float32)
    centres = (np.arange(g, dtype=np.float32) + 0.5) * STRIDE
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))  # small plates written last
    for x1, y1, x2, y2 in boxes[order]:
        w, h = x2 - x1, y2 - y1
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        sx, sy = max(ALPHA * w / 6, 0.8 * STRIDE / 2), max(ALPHA * h / 6, 0.8 * STRIDE / 2)
        gx = np.exp(-((centres - cx) ** 2) / (2 * sx * sx))
        gy = np.exp(-((centres - cy) ** 2) / (2 * sy * sy))
        gauss = gy[:, None] * gx[None, :]
        iy0, ix0 = min(g - 1, int(cy // STRIDE)), min(g - 1, int(cx // STRIDE))  # the cell holding the centre
        if gauss[iy0, ix0] <= 0:
            continue
        gauss = np.minimum(gauss / gauss[iy0, ix0], 0.99)
        gauss[iy0, ix0] = 1.0
        gauss[gauss < 1e-3] = 0
        heat = np.maximum(heat, gauss)
        inside = (gauss > 0) & (centres[None, :] > x1) & (centres[None, :] < x2) & (centres[:, None] > y1) & (centres[:, None] < y2)
        if not inside.any():
            iy, ix = np.unravel_index(int(np.argmax(gauss)), gauss.shape)
            inside[iy, ix] = True
        share = np.where(inside, gauss, 0)
        share = share / share.sum() * math.log(max(w * h, 2.0))
        take = share > 0
        weight[take] = share[take]
        xs = np.broadcast_to(centres[None, :], (g, g))
        ys = np.broadcast_to(centres[:, None], (g, g))
        ltrb[0][take], ltrb[1][take] = (xs - x1)[take], (ys - y1)[take]
        ltrb[2][take], ltrb[3][take] = (x2 - xs)[take], (y2 - ys)[take]
    care[heat > 0] = 1
    return heat, ltrb, weight, care


def focal_loss(pred: torch.Tensor, gt: torch.Tensor, care: torch.Tensor | None = None) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, normalised by the number of plate centres; cells where ``care`` is
    0 are neither plate nor background."""
    pred = pred.clamp(1e-4, 1 - 1e-4)
    pos = gt.eq(1).float()
    neg = 1 - pos
    if care is not None:
        neg = neg * care
    pos_loss = torch.log(pred) * (1 - pred) ** 2 * pos
    neg_loss = torch.log(1 - pred) * pred ** 2 * (1 - gt) ** 4 * neg
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1)


def giou_loss(pred: torch.Tensor, gt: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """GIoU loss of ltrb distances (N, 4, g, g) at the weighted cells."""
    mask = weight > 0
    if not mask.any():
        return pred.sum() * 0
    p = pred.permute(0, 2, 3, 1)[mask]
    t = gt.permute(0, 2, 3, 1)[mask]
    w = weight[mask]
    pa = (p[:, 0] + p[:, 2]) * (p[:, 1] + p[:, 3])
    ta = (t[:, 0] + t[:, 2]) * (t[:, 1] + t[:, 3])
    iw = torch.min(p[:, 0], t[:, 0]) + torch.min(p[:, 2], t[:, 2])
    ih = torch.min(p[:, 1], t[:, 1]) + torch.min(p[:, 3], t[:, 3])
    inter = iw * ih
    union = pa + ta - inter
    iou = inter / union.clamp(min=1e-6)
    ew = torch.max(p[:, 0], t[:, 0]) + torch.max(p[:, 2], t[:, 2])
    eh = torch.max(p[:, 1], t[:, 1]) + torch.max(p[:, 3], t[:, 3])
    enclose = (ew * eh).clamp(min=1e-6)
    giou = iou - (enclose - union) / enclose
    return ((1 - giou) * w).sum() / w.sum().clamp(min=1e-6)


def batch(rng: np.random.Generator, backgrounds: list[np.ndarray], n: int, size: int,
          real: list[gen.Labelled] = (), real_share: float = 0.0) -> tuple[torch.Tensor, ...]:
    """``n`` training pictures (drawn plates on ``backgrounds``; a ``real_share`` of them cut from ``real``
    frames) and their targets, as tensors: images, heat, ltrb, box weights, care."""
    images, heats, boxes, weights, cares = [], [], [], [], []
    for _ in range(n):
        if real and rng.random() < real_share:
            rgb, found, ignore = gen.real_sample(rng, list(real), size)
        else:
            (rgb, found), ignore = gen.sample(rng, backgrounds, size), None
        heat, ltrb, weight, care = targets(found, size, ignore)
        images.append(rgb.transpose(2, 0, 1))
        heats.append(heat[None])
        boxes.append(ltrb)
        weights.append(weight)
        cares.append(care[None])
    return (torch.from_numpy(np.stack(images).astype(np.float32)), torch.from_numpy(np.stack(heats)),
            torch.from_numpy(np.stack(boxes)), torch.from_numpy(np.stack(weights)), torch.from_numpy(np.stack(cares)))


class _Batches(torch.utils.data.IterableDataset):
    """Endless batches made in a worker process (one seed per worker): the picture generator runs beside training."""

    def __init__(self, seed: int, backgrounds: list[np.ndarray], n: int, size: int,
                 real: list[gen.Labelled] = (), real_share: float = 0.0) -> None:
        self.seed, self.backgrounds, self.n, self.size = seed, backgrounds, n, size
        self.real, self.real_share = list(real), real_share

    def __iter__(self):  # type: ignore[no-untyped-def]
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, 0 if info is None else info.id])
        while True:
            yield batch(rng, self.backgrounds, self.n, self.size, self.real, self.real_share)


def train(backgrounds: list[np.ndarray], steps: int, seed: int = 0, batch_size: int = 32, size: int = 256,
          lr: float = 4e-3, workers: int = 1, model: PlateNet | None = None,
          log_every: int = 50, every: int = 0, on_every=None, real: list[gen.Labelled] = (),
          real_share: float = 0.0) -> tuple[PlateNet, list[float]]:
    """Train from scratch (or go on with ``model``) for ``steps`` steps of AdamW with a cosine schedule; returns
    the model and the loss of every step."""
    torch.manual_seed(seed)
    model = model or PlateNet()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    warm = min(200, steps // 10 + 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    data = torch.utils.data.DataLoader(_Batches(seed, backgrounds, batch_size, size, real, real_share), batch_size=None,
                                       num_workers=workers, prefetch_factor=4 if workers else None,
                                       persistent_workers=False)
    losses: list[float] = []
    start = time.monotonic()
    for step, (x, heat_t, box_t, weight_t, care_t) in enumerate(data):
        if step >= steps:
            break
        heat, ltrb = model(x)
        lh = focal_loss(heat, heat_t, care_t)
        lb = giou_loss(ltrb, box_t, weight_t)
        loss = lh + 5.0 * lb
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if every and on_every is not None and step and step % every == 0:
            model.eval()
            on_every(model, step)
            model.train()
        if log_every and (step % log_every == 0 or step == steps - 1):
            log.info("step %d/%d loss %.3f (heat %.3f, box %.3f) %.0f s", step, steps, float(np.mean(losses[-log_every:])),
                     float(lh), float(lb), time.monotonic() - start)
    model.eval()
    return model, losses


def export(model: PlateNet, path: Path, opset: int = 17) -> None:
    """Write the model as ONNX with dynamic height and width (multiples of 32)."""
    model.eval()
    dummy = torch.zeros(1, 3, 256, 256)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The TorchScript exporter: a plain convolutional graph with dynamic sides, and no onnxscript dependency
    # (the torch.export one needs it); it warns that it is deprecated.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (dummy,), str(path), input_names=["image"], output_names=["heat", "ltrb"],
                          dynamic_axes={"image": {2: "height", 3: "width"}, "heat": {2: "gh", 3: "gw"},
                                        "ltrb": {2: "gh", 3: "gw"}}, opset_version=opset, dynamo=False)


def load_backgrounds(recipe: dict, root: Path) -> list[np.ndarray]:
    """The recipe's background pictures: scikit-image's photos by name and frames of video files (relative to
    ``root``) every ``every`` frames."""
    import skimage.data as data

    out: list[np.ndarray] = []
    for name in recipe.get("skimage", []):
        img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
        out.append(np.ascontiguousarray(np.stack([img] * 3, -1) if img.ndim == 2 else img[:, :, :3]))
    for clip in recipe.get("clips", []):
        every = int(clip["every"])
        out.extend(rgb for _, rgb in rgb_frames(root / clip["path"], lambda i, every=every: i % every == 0))
    return out


def load_real(entries: list[dict], root: Path) -> list[gen.Labelled]:
    """The recipe's ``[[real]]`` frames: each clip (relative to ``root``) with the teacher's labels of its frames
    (``anonymizer.training.teacher``'s JSON)."""
    out: list[gen.Labelled] = []
    for entry in entries:
        labels = json.loads((root / entry["labels"]).read_text())
        by_frame = {row["frame"]: row for row in labels["frames"]}
        for i, rgb in rgb_frames(root / entry["clip"], lambda i: i in by_frame):
            out.append(gen.Labelled(rgb, np.asarray(by_frame[i]["plates"], np.float32).reshape(-1, 4),
                                    np.asarray(by_frame[i]["ignore"], np.float32).reshape(-1, 4)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=Path("models/platenet.toml"))
    parser.add_argument("--out", type=Path, default=Path("models/platenet.onnx"))
    parser.add_argument("--steps", type=int, help="override the recipe's steps")
    parser.add_argument("--checkpoint", type=Path, help="also save the PyTorch weights here")
    parser.add_argument("--init", type=Path, help="start from these PyTorch weights (--checkpoint of a run)")
    parser.add_argument("--every", type=int, default=0, help="also export every N steps (OUT.stepN.onnx)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    recipe = tomllib.loads(args.recipe.read_text())
    torch.set_num_threads(int(recipe.get("threads", 2)))
    backgrounds = load_backgrounds(recipe.get("backgrounds", {}), args.recipe.resolve().parent)
    root = args.recipe.resolve().parent
    real = load_real(recipe.get("real", []), root)
    log.info("%d background pictures, %d labelled real frames", len(backgrounds), len(real))
    model = PlateNet()
    if args.init:
        model.load_state_dict(torch.load(args.init, weights_only=True))
    model, _ = train(backgrounds, args.steps or int(recipe["steps"]), int(recipe["seed"]), int(recipe["batch"]),
                     int(recipe["size"]), float(recipe["lr"]), int(recipe.get("workers", 1)),
                     every=args.every, on_every=lambda m, step: export(m, args.out.with_suffix(f".step{step}.onnx")),
                     real=real, real_share=float(recipe.get("real_share", 0.0)), model=model)
    if args.checkpoint:
        torch.save(model.state_dict(), args.checkpoint)
    export(model, args.out)
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
