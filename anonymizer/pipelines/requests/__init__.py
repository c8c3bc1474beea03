"""Data-subject requests (DPO workflow): new, list, find, review, apply, export, report, close.

The matching is the pure ``anonymizer.domain.requests.match``; this module narrows the catalogue by time and place
in SQL first (index on start, bounded below by the longest clip), then runs the matcher, stores the segments, and
carries out what the DPO selected: remove a clip with every copy derived from it, amend it (redact whole frames
over the segment, or cut the segment out; the file is replaced atomically and its sha256, size, frames and state
updated), restrict it (a flag that other commands honour; retention deletion still happens), or export segments
for an access request. Every step writes an audit event (object ``request:ID``) in the transaction of its change.

One module per step: ``records`` (new, list, show, close), ``find``, ``review`` (and reading the selection),
``apply``, ``export``, ``report``, ``closing`` (close, then the final report); ``common`` holds what they share.
"""

from anonymizer.pipelines.requests.apply import ACTIONS, AMEND_METHODS, DEFAULT_ACTION, apply, whole_frame
from anonymizer.pipelines.requests.common import RequestError, describe, place_index, request_dir
from anonymizer.pipelines.requests.export import export
from anonymizer.pipelines.requests.find import candidates, find
from anonymizer.pipelines.requests.closing import close
from anonymizer.pipelines.requests.records import list_requests, new_request, show
from anonymizer.pipelines.requests.report import report
from anonymizer.pipelines.requests.review import THUMB_EVERY_S, read_selection, read_selection_file, review

__all__ = [
    "ACTIONS", "AMEND_METHODS", "DEFAULT_ACTION", "THUMB_EVERY_S", "RequestError", "apply", "candidates", "close",
    "describe", "export", "find", "list_requests", "new_request", "place_index", "read_selection", "read_selection_file", "report",
    "request_dir", "review", "show", "whole_frame",
]
