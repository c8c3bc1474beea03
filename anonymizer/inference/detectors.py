"""Open the installed models as detectors (once per worker process)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from anonymizer.domain.detections import Detections
from anonymizer.inference.cascade import CascadeFaceDetector, RetinaFaceProposer
from anonymizer.inference.face import FaceDetector
from anonymizer.inference.manifest import InstalledModel, installed, load_manifest
from anonymizer.inference.plate import PlateDetector
from anonymizer.inference.platenet import PlateNetDetector
from anonymizer.inference.plate_retina import PlateUnion, RetinaPlateDetector
from anonymizer.inference.session import make_session
from anonymizer.inference.yunet import YuNetDetector


class Detector(Protocol):
    kind: str
    threshold: float

    def input_size(self, src_w: int, src_h: int) -> tuple[int, int]: ...

    def detect(self, rgb: np.ndarray, src_w: int, src_h: int) -> Detections: ...


@dataclass
class LoadedDetector:
    detector: Detector
    model: InstalledModel
    first_stage: InstalledModel | None = None  # faces: the proposal model in front of CenterFace, if any
    second: InstalledModel | None = None  # plates: the second detector run beside platedet, if any
    # The detector of the full-resolution pass, if not the coarse pass's own: plates, platenet (trained at the
    # frame's own size) instead of platedet enlarged; faces, YuNet instead of CenterFace.
    fine: PlateNetDetector | YuNetDetector | None = None
    fine_model: InstalledModel | None = None

    @property
    def models(self) -> list[InstalledModel]:
        return [m for m in (self.first_stage, self.model, self.second, self.fine_model) if m is not None]


def load_detectors(
    face_threshold: float,
    plate_threshold: float,
    face_max_side: int,
    plate_max_side: int,
    threads: int = 0,
    device: str = "auto",
    kinds: tuple[str, ...] = ("face", "plate"),
    face_first_stage: str = "off",
    plate_second: str = "off",
    plate_fine: str = "platedet",
    face_fine: str = "centerface",
) -> dict[str, LoadedDetector]:
    """One detector per kind, from the manifest's model of that kind, checked against its recorded sha256.
    ``face_first_stage="retinaface"``: faces are proposed by the manifest's ``face_proposals`` model and confirmed
    by the face model on a crop around each proposal (``inference.cascade``). ``plate_fine="platenet"``: the plates'
    full-resolution pass runs the manifest's ``plate_fine`` model (platenet) at the frame's own size;
    ``face_fine="yunet"``: the faces' one runs the manifest's ``face_fine`` model (YuNet)."""
    specs = {spec.kind: spec for spec in load_manifest().values()}
    out: dict[str, LoadedDetector] = {}
    for kind in kinds:
        model = installed(specs[kind])
        session = make_session(model.path, threads=threads, device=device)
        first: InstalledModel | None = None
        second: InstalledModel | None = None
        if kind == "face":
            det: Detector = FaceDetector(session, face_threshold, face_max_side)
            if face_first_stage != "off":
                first = installed(specs["face_proposals"])
                proposer = RetinaFaceProposer(make_session(first.path, threads=threads, device=device),
                                              first.spec.threshold)
                det = CascadeFaceDetector(proposer, det)  # type: ignore[arg-type]
        else:
            det = PlateDetector(session, plate_threshold, plate_max_side)
            if plate_second != "off":
                second = installed(specs["plate_second"])
                det = PlateUnion(det, RetinaPlateDetector(  # type: ignore[assignment]
                    make_session(second.path, threads=threads, device=device), second.spec.threshold))
        loaded = LoadedDetector(det, model, first, second)
        if kind == "plate" and plate_fine == "platenet":
            loaded.fine_model = installed(specs["plate_fine"])
            loaded.fine = PlateNetDetector(make_session(loaded.fine_model.path, threads=threads, device=device),
                                           loaded.fine_model.spec.threshold)
        if kind == "face" and face_fine == "yunet":
            loaded.fine_model = installed(specs["face_fine"])
            loaded.fine = YuNetDetector(make_session(loaded.fine_model.path, threads=threads, device=device),
                                        loaded.fine_model.spec.threshold)
        out[kind] = loaded
    return out
