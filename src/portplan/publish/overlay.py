"""Overlays: what results documents (the JSON of ``verify``; ``audit`` and ``diff`` when they
exist) say about each flow of a plan, read from the document's ``kind``.

A reader per kind lives in :data:`OVERLAY_READERS`; adding a kind is adding its reader there
(and the report command gains an option named after it).  A document of a kind without a
reader, or of a ``format_version`` major its reader does not know, is refused with an
:class:`~portplan._errors.OverlayError` rather than read in part.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from portplan._errors import OverlayError
from portplan._text import half_surrogate_pair
from portplan.plan import Plan, plan_digest
from portplan.publish._coverage import as_placed, holds, shortfall
from portplan.publish._findings import Document, Finding, Overlay, OverlayReader
from portplan.publish._model import Status, worst
from portplan.publish._verify_overlay import VerifyReader

__all__ = [
    "OVERLAY_READERS",
    "Finding",
    "Overlay",
    "OverlayReader",
    "RowFindings",
    "overlay_rows",
    "read_overlay",
]

#: the reader of each kind of results document a report can overlay, by ``kind``
OVERLAY_READERS: Mapping[str, OverlayReader] = {reader.kind: reader for reader in (VerifyReader(),)}


def read_overlay(text: str, origin: str, kind: str | None = None) -> Overlay:
    """The findings of the results document ``text`` (read from ``origin``, named in errors);
    ``kind``: the kind the caller asked for (``--verify`` wants ``verify``)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OverlayError(
            f"{origin}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg}); give the output of "
            "a portplan command with --format json"
        ) from None
    except (ValueError, RecursionError) as exc:  # Python's limits, not JSON's
        digits = re.search(r"value has (\d+) digits", str(exc))
        why = (
            "lists or objects nested too deeply"
            if isinstance(exc, RecursionError)
            else (f"a number of {digits.group(1)} digits" if digits else str(exc))
        )
        raise OverlayError(
            f"{origin}: not JSON ({why}); give the output of a portplan command with --format json"
        ) from None
    half = half_surrogate_pair(data)
    if half is not None:
        raise OverlayError(
            f"{origin}: {half}, which no text can: give the unedited output of a portplan command"
        )
    if not isinstance(data, dict) or "format_version" not in data or "kind" not in data:
        wanted = OVERLAY_READERS.get(kind) if kind is not None else None
        made_by = wanted.made_by if wanted is not None else None
        raise OverlayError(
            f"{origin}: not a portplan JSON document (it has no format_version and kind); "
            + (
                f"give what {made_by} writes"
                if made_by
                else "give the output of a portplan command with --format json"
            )
        )
    found = data["kind"]
    readers = ", ".join(sorted(OVERLAY_READERS))
    if kind is not None and found != kind:
        wanted = OVERLAY_READERS[kind]
        raise OverlayError(
            f"{origin}: a {found!r} document, but --{kind} reads {kind!r} documents "
            f"(made by {wanted.made_by})"
        )
    reader = OVERLAY_READERS.get(found) if isinstance(found, str) else None
    if reader is None:
        raise OverlayError(
            f"{origin}: a report cannot overlay a {found!r} document; it reads: {readers}"
        )
    version = data["format_version"]
    major, _, minor = str(version).partition(".")
    if not (major.isdigit() and minor.isdigit()):
        raise OverlayError(
            f"{origin}: format_version {version!r} is not MAJOR.MINOR; give the unedited "
            "output of a portplan command"
        )
    if int(major) not in reader.majors:
        known = ", ".join(f"{m}.x" for m in sorted(reader.majors))
        raise OverlayError(
            f"{origin}: format_version {version} of {found!r} documents is not one this "
            f"portplan reads ({known}); make the report with the portplan that wrote it"
        )
    return reader.read(Document(data, origin))


@dataclass(frozen=True, slots=True, kw_only=True)
class RowFindings:
    """The overlays laid on a plan: each row's findings and worst status, the findings that
    name no row of this plan (made from another deployment, or an older plan), and the probes
    of what must stay blocked, which are about no row (:attr:`Finding.expected_blocked`)."""

    findings: Mapping[int, tuple[tuple[Overlay, Finding], ...]]
    status: Mapping[int, Status]
    unmatched: tuple[tuple[Overlay, Finding], ...]
    blocked: tuple[tuple[Overlay, Finding], ...] = ()
    #: what to tell the reader of an overlay made from another plan, or that does not say
    notices: tuple[tuple[Overlay, str], ...] = ()


def _plan_notices(plan: Plan, overlays: Sequence[Overlay]) -> list[tuple[Overlay, str]]:
    """A notice for each overlay that does not say which plan it is of, or is of another
    plan than ``plan`` (:func:`~portplan.plan.plan_digest`)."""
    notices = []
    for overlay in overlays:
        if overlay.plan_digest is None:
            notices.append(
                (
                    overlay,
                    f"{overlay.origin} does not say which plan it verified (made by an older "
                    "portplan verify): its passes count where the ports and addresses they "
                    "probed are this plan's",
                )
            )
        elif overlay.plan_digest != plan_digest(plan):
            notices.append(
                (
                    overlay,
                    f"{overlay.origin}: results of another plan than this one (the deployment "
                    "or a product has changed since verify ran): their failures are shown, "
                    "their passes verify no row; run verify again to verify the plan as it "
                    f"stands (their plan_digest {overlay.plan_digest}, this plan's "
                    f"{plan_digest(plan)})",
                )
            )
    return notices


def _of_another_plan(plan: Plan, overlay: Overlay, finding: Finding) -> Finding:
    """A pass of results of another plan, as it stands on a row of ``plan``: unchecked."""
    if finding.status is not Status.PASSED:
        return finding
    theirs, ours = overlay.plan_digest or "", plan_digest(plan)
    return replace(
        finding,
        status=Status.UNCHECKED,
        outcome=f"{finding.outcome}, of another plan",
        evidence=f"verified another plan ({theirs[:19]}..., this plan {ours[:19]}...): "
        f"{finding.evidence}",
    )


def overlay_rows(plan: Plan, overlays: Sequence[Overlay]) -> RowFindings:
    """Lay ``overlays`` on the rows of ``plan``; :class:`OverlayError` for an overlay that
    says it is of another deployment."""
    for overlay in overlays:
        if overlay.deployment is not None and overlay.deployment != plan.deployment:
            raise OverlayError(
                f"{overlay.origin}: results of deployment {overlay.deployment!r}, not of "
                f"{plan.deployment!r}: give the deployment they were made from"
            )
    notices = _plan_notices(plan, overlays)
    # results of another plan: their passes verify no row (a row may hold the same ports
    # and addresses and yet ask more, a service to identify, say), their failures stand
    stale = {id(o) for o, _n in notices if o.plan_digest is not None}
    by_key: dict[str, list[int]] = {}
    for index, row in enumerate(plan.rows):
        by_key.setdefault(row.key, []).append(index)
    found: dict[int, list[tuple[Overlay, Finding]]] = {}
    unmatched = []
    blocked = []
    for overlay in overlays:
        for finding in overlay.findings:
            if finding.expected_blocked:
                # it names the row it is next to, or another source's: it verifies neither
                blocked.append((overlay, finding))
                continue
            hits = [
                i
                for i in by_key.get(finding.flow, ())
                if finding.matches(
                    plan.rows[i].key,
                    plan.rows[i].source,
                    plan.rows[i].destination,
                    plan.rows[i].protocol.value,
                )
                # a pass counts only for what the row holds now (same names, another plan);
                # a failure stays on the row it names, never hidden
                and (
                    finding.status is not Status.PASSED
                    or finding.probe is None
                    or holds(plan, plan.rows[i], finding.probe)
                )
            ]
            for index in hits:
                placed = as_placed(plan, plan.rows[index], finding)
                if id(overlay) in stale:
                    placed = _of_another_plan(plan, overlay, placed)
                found.setdefault(index, []).append((overlay, placed))
            if not hits:
                unmatched.append((overlay, finding))
    for index, items in found.items():
        # the probes of every document together: one file per member of a cluster, say
        gap = shortfall(plan, plan.rows[index], [f for _o, f in items])
        if gap is not None:
            # by identity: one file given twice is two equal overlays, each with its column
            probing = {id(o): o for o, f in items if f.probe is not None}
            items.extend((overlay, gap) for overlay in probing.values())
    status = {i: worst(f.status for _o, f in items) for i, items in sorted(found.items())}
    return RowFindings(
        findings={i: tuple(items) for i, items in sorted(found.items())},
        status={i: s for i, s in status.items() if s is not None},
        unmatched=tuple(unmatched),
        blocked=tuple(blocked),
        notices=tuple(notices),
    )
