"""Which way up a clip's picture is: as displayed (0 quarter turns) or turned 180 degrees (2).

A camera mounted upside down (ceilings, poles) with no display matrix, or a display matrix that shows the picture
upside down, gives upside-down people, and CenterFace misses most upside-down faces. So the faces decide, per clip:
each face run that looks both ways votes for the way its confident faces score better (``vote``); the latest
``WINDOW`` votes decide once there are ``SETTLE`` of them and ``SHARE`` agree. Until then every face run looks both
ways; once decided, the other way is still looked at every ``RECHECK`` runs, and what it sees can reopen the
question. Pure: no pictures here, only boxes and scores in one (displayed) frame of reference.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from anonymizer.domain.geometry import iou_matrix

UP, TURNED = 0, 2
VOTE_SCORE = 0.5  # a face this confident either way takes part in a vote
VOTE_MARGIN = 0.1  # one way must score this much better than the other (0 where it found nothing)
MATCH_IOU = 0.3  # the same face seen both ways (boxes of a turned face are placed a little differently)
WINDOW = 12
SETTLE = 6
SHARE = 0.8
RECHECK = 10


def vote(up_xyxy: np.ndarray, up_scores: np.ndarray, turned_xyxy: np.ndarray,
         turned_scores: np.ndarray) -> int | None:
    """The way one run's faces are seen better (``UP`` or ``TURNED``), or None when no confident face tells.

    Every face scoring ``VOTE_SCORE`` either way is paired with its best match the other way (score 0 unmatched);
    the run votes for the way with the larger sum of the score differences beyond ``VOTE_MARGIN``."""
    up_scores = np.asarray(up_scores, np.float32).reshape(-1)
    turned_scores = np.asarray(turned_scores, np.float32).reshape(-1)
    balance = 0.0
    counted = False
    for mine, other, mine_s, other_s, sign in ((up_xyxy, turned_xyxy, up_scores, turned_scores, 1.0),
                                               (turned_xyxy, up_xyxy, turned_scores, up_scores, -1.0)):
        mine = np.asarray(mine, np.float32).reshape(-1, 4)
        other = np.asarray(other, np.float32).reshape(-1, 4)
        iou = iou_matrix(mine, other) if len(mine) and len(other) else np.zeros((len(mine), 0), np.float32)
        for i in np.flatnonzero(mine_s >= VOTE_SCORE):
            j = int(np.argmax(iou[i])) if iou.shape[1] else -1
            best_other = float(other_s[j]) if j >= 0 and iou[i, j] >= MATCH_IOU else 0.0
            diff = float(mine_s[i]) - best_other
            if diff >= VOTE_MARGIN:
                balance += sign * diff
                counted = True
    if not counted or balance == 0.0:
        return None
    return UP if balance > 0 else TURNED


class Uprightness:
    """The votes of one clip and what they decide."""

    def __init__(self) -> None:
        self.votes: deque[int] = deque(maxlen=WINDOW)
        self.primary = UP  # the way the passes look; the latest decided way (upright until one is)
        self.runs = 0
        self.both_ways_runs = 0

    @property
    def way(self) -> int | None:
        """The decided way, or None while undecided."""
        if len(self.votes) < SETTLE:
            return None
        for way in (UP, TURNED):
            if sum(1 for v in self.votes if v == way) >= SHARE * len(self.votes):
                return way
        return None

    def looks_both_ways(self, count: bool = True) -> bool:
        """Whether this face run also looks the other way: while undecided, and every ``RECHECK`` runs. A run not
        counted (the residual check's) looks both ways only while undecided: decided, the other way sees false faces."""
        if not count:
            return self.way is None
        self.runs += 1
        both = self.way is None or self.runs % RECHECK == 0
        self.both_ways_runs += both
        return both

    def add(self, voted: int | None) -> None:
        if voted is None:
            return
        self.votes.append(voted)
        decided = self.way
        if decided is not None:
            self.primary = decided

    def as_report(self) -> dict:
        return {"turned": self.primary == TURNED, "decided": self.way is not None, "votes": list(self.votes),
                "face_runs": self.runs, "both_ways_runs": self.both_ways_runs}
