"""Add an approval to a policy file without touching anything else in it.

Officers write comments in their policies; re-serialising the YAML would drop them. Since the
digest covers the parsed document, not its formatting, an approval is appended as text at the end
of the file, and the result is parsed again and compared with what was intended before anything
is written. Requires that `approvals:` is absent or the last top-level field, in block style.
`replace_approval` swaps one item (an officer's stale approval) for a new one the same way.
"""

from __future__ import annotations

import json

from policies.errors import ApprovalError
from policies.model import Approval
from policies.source import parse_yaml


def _item_lines(approval: Approval, indent: str) -> list[str]:
    d = approval.to_document()
    keys = ["officer_id", "role", "key_id", "signed_at", "signature"]
    out = [f"{indent}- {keys[0]}: {json.dumps(d[keys[0]])}\n"]
    out += [f"{indent}  {k}: {json.dumps(d[k])}\n" for k in keys[1:]]
    return out


def append_approval(text: str, approval: Approval) -> str:
    """`text` with `approval` appended to its `approvals` list. Raises `ApprovalError`."""
    source = parse_yaml(text)
    doc = source.document
    approvals = doc.get("approvals")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if approvals is None and "approvals" not in doc:
        new_lines = [*lines, "approvals:\n", *_item_lines(approval, "  ")]
    else:
        if list(doc)[-1] != "approvals":
            raise ApprovalError(
                "the approvals: section is not at the end of the file; move it to the end, "
                "then sign again (nothing was written)"
            )
        if not isinstance(approvals, list):
            raise ApprovalError("approvals: must be a list")
        key_line = source.lines[("approvals",)] - 1
        if not approvals:
            if lines[key_line].split("#", 1)[0].strip() not in {"approvals: []", "approvals:[]"}:
                raise ApprovalError("write an empty approvals section as `approvals: []`")
            new_lines = [*lines[:key_line], "approvals:\n", *lines[key_line + 1 :]]
            new_lines += _item_lines(approval, "  ")
        else:
            first = lines[source.lines[("approvals", 0)] - 1]
            if source.lines[("approvals", 0)] - 1 == key_line or "-" not in first:
                raise ApprovalError(
                    "write approvals in block style (one `- officer_id: ...` item per approval)"
                )
            indent = first[: len(first) - len(first.lstrip(" "))]
            new_lines = [*lines, *_item_lines(approval, indent)]
    new_text = "".join(new_lines)
    expected = dict(doc)
    expected["approvals"] = [*(approvals or []), approval.to_document()]
    if parse_yaml(new_text).document != expected:
        raise ApprovalError(
            "could not add the approval without changing the rest of the file; put approvals: "
            "at the end in block style and sign again (nothing was written)"
        )
    return new_text


def replace_approval(text: str, index: int, approval: Approval) -> str:
    """`text` with approval number `index` replaced by `approval`. Raises `ApprovalError`.

    Only the item's own lines change; comments and every other line stay as they were.
    """
    source = parse_yaml(text)
    doc = source.document
    approvals = doc.get("approvals")
    if not isinstance(approvals, list) or not 0 <= index < len(approvals):
        raise ApprovalError(f"the policy has no approval number {index + 1}")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start = source.lines[("approvals", index)] - 1
    first = lines[start]
    if start == source.lines[("approvals",)] - 1 or not first.lstrip(" ").startswith("- "):
        raise ApprovalError(
            "write approvals in block style (one `- officer_id: ...` item per approval)"
        )
    if index + 1 < len(approvals):
        end = source.lines[("approvals", index + 1)] - 1
    else:
        end = max(
            line for path, line in source.lines.items() if path[:2] == ("approvals", index)
        )
    indent = first[: len(first) - len(first.lstrip(" "))]
    new_text = "".join([*lines[:start], *_item_lines(approval, indent), *lines[end:]])
    expected = dict(doc)
    expected["approvals"] = [
        approval.to_document() if i == index else a for i, a in enumerate(approvals)
    ]
    if parse_yaml(new_text).document != expected:
        raise ApprovalError(
            "could not replace the approval without changing the rest of the file; put "
            "approvals: at the end in block style and sign again (nothing was written)"
        )
    return new_text
