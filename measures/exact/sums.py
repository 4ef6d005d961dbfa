"""Failing sums stored in full: a compact, exact text form of an operand pair, and the shortest failing prefix.

A sum is written as its two operands, most significant digit first, each run of 4 or more equal digits as
[d x n] (lossless: decode(encode(a, b)) gives back a and b digit for digit), e.g.

    a = 4444444, b = 5555555   ->   "[4x7] + [5x7]"
    a = 99999 (5 digits), b = 0  ->   "[9x5] + 0"

so a 1,000,000-digit 99...9 + 1 costs a few characters and any failure found can be re-checked from the
result JSON (tests/test_exact.py does).

The model is causal: its digit at step t depends on the pairs 0..t only, so a sum that is first wrong at
step t < length is also wrong on the sum of its operands cut to their t + 1 low digits (same pairs, same true
digits up to t). failure() stores that shorter sum: the failure's "digits". When the pair at t is (0, 0), the
sum cut to t digits fails too (its padding step is that pair), so 00099999 + 0 wrong at step 5 is stored as
"[9x5] + 0", 5 digits.
"""
import re

import numpy as np

RUN = 4  # runs of at least this many equal digits are written [d x n]
_TOKEN = re.compile(r"\[(\d)x(\d+)\]|(\d)")


def encode_operand(row):
    """LSB-first digit row -> MSB-first text, leading zeros dropped, runs of >= RUN equal digits as [dxn]."""
    text = "".join(map(str, np.asarray(row)[::-1].tolist())).lstrip("0") or "0"
    out, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and text[j] == text[i]:
            j += 1
        out.append(text[i] * (j - i) if j - i < RUN else f"[{text[i]}x{j - i}]")
        i = j
    return "".join(out)


def decode_operand(text, length=None):
    """encode_operand's text -> LSB-first int64 digit row (zero-padded to `length` digits when given)."""
    digits, at = [], 0
    for m in _TOKEN.finditer(text):
        if m.start() != at:
            raise ValueError(f"{text[:40]!r} is not an encoded operand: digits 0-9 and runs [dxn] only")
        digits.extend([int(m.group(1))] * int(m.group(2)) if m.group(1) else [int(m.group(3))])
        at = m.end()
    if at != len(text) or not digits:
        raise ValueError(f"{text[:40]!r} is not an encoded operand: digits 0-9 and runs [dxn] only")
    row = np.array(digits[::-1], dtype=np.int64)
    if length is not None:
        if len(row) > length and row[length:].any():
            raise ValueError(f"operand of {len(row)} digits does not fit in {length}")
        row = np.pad(row, (0, max(0, length - len(row))))[:length]
    return row


def encode(a, b):
    """An operand pair (LSB-first rows) -> "A + B"."""
    return f"{encode_operand(a)} + {encode_operand(b)}"


def decode(text, length=None):
    """"A + B" -> (a, b) LSB-first rows of `length` digits (default: the longer operand's)."""
    parts = text.split(" + ")
    if len(parts) != 2:
        raise ValueError(f"{text[:40]!r} is not a sum: expected 'A + B'")
    a, b = (decode_operand(p) for p in parts)
    n = max(len(a), len(b)) if length is None else length
    return decode_operand(parts[0], n), decode_operand(parts[1], n)


def failure(a, b, wrong_steps, length):
    """One wrong sum as stored: its shortest failing prefix, encoded, and where it is wrong.

    a, b: LSB-first operand rows (>= length digits, the padding step not included); wrong_steps: sorted steps
    (0..length, length = the padding step) where the model's digit is wrong. Returns {"sum": "A + B" of the
    prefix, "digits": its operand length, "first_wrong": step, "wrong_steps": how many steps were wrong in the
    whole sum}.
    """
    first = int(wrong_steps[0])
    # a pair (0, 0) at the first wrong step is the padding step of the sum cut below it: same inputs, same digit
    top_zero = first >= length or (first > 0 and a[first] == 0 and b[first] == 0)
    cut = first if top_zero and first > 0 else first + 1
    return {"sum": encode(a[:cut], b[:cut]), "digits": cut, "first_wrong": first, "wrong_steps": int(len(wrong_steps))}
