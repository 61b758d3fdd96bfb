#!/usr/bin/env python3
"""Where a scan's CPU goes, by part of the scan and kind of code, from `perf script` output.

    perf script -i perf.data -F comm,ip,sym | scripts/perf_groups.py

Used by scripts/profile.sh. Each sample goes to the first part of the scan (PARTS, in order)
whose pattern matches a frame of its call chain, as perf unwound it, and then to the kind of
code its innermost frame is in: kernel (addresses in the kernel's half), crypto (ring and the
primitives it calls), allocator (mimalloc), memcpy (libc's mem* functions) or other user space.
Prints one row per part with its share of all samples and the split by kind, in per cent.
"""

import re
import sys
from collections import Counter, defaultdict

PARTS = [
    ("STARTTLS probes", re.compile(r"probe_keyed")),
    ("policy fetches", re.compile(r"stsscan::fetch::")),
    ("chain judging", re.compile(r"judge_chain|fill_probe")),
    ("DNS", re.compile(r"stsscan::dns::")),
    ("output (rows, Parquet)", re.compile(r"stsscan::output::")),
    ("rest of scan_domain", re.compile(r"scan_domain")),
    ("input, scheduling", re.compile(r"run::schedule|scan_entry|pipeline::input")),
]
CRYPTO = re.compile(
    r"ring_core|ring::|ecp_nistz|nistz256|fe4_|fe_|fiat|x25519|sha512|sha256|aes|gcm|ghash"
    r"|chacha|constant_time|OPENSSL|p256|bn_|limbs|LIMBS"
)
KINDS = ["crypto", "kernel", "allocator", "memcpy", "other"]


def samples(lines):
    """Yields each sample's frames as (address, symbol), innermost first."""
    frames = None
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = None
        elif not line.startswith("\t"):
            if frames:
                yield frames
            frames = []
        elif frames is not None:
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                frames.append((parts[0], parts[1]))
    if frames:
        yield frames


def kind(frame):
    address, symbol = frame
    if address.startswith("ffffffff8"):
        return "kernel"
    if CRYPTO.search(symbol):
        return "crypto"
    if re.match(r"_?mi_", symbol):
        return "allocator"
    if re.search(r"mem(cpy|move|set|cmp)", symbol):
        return "memcpy"
    return "other"


def main():
    table = defaultdict(Counter)
    total = 0
    for frames in samples(sys.stdin):
        total += 1
        chain = " ".join(symbol for _, symbol in frames)
        part = next((name for name, rx in PARTS if rx.search(chain)), "other (tokio, threads)")
        table[part][kind(frames[0])] += 1
    if not total:
        print("no samples", file=sys.stderr)
        return 1
    print(f"{total} samples; per cent of all samples")
    print(f"{'part of the scan':24} {'share':>6}  " + " ".join(f"{k:>9}" for k in KINDS))
    for part, counts in sorted(table.items(), key=lambda kv: -sum(kv[1].values())):
        share = 100 * sum(counts.values()) / total
        split = " ".join(f"{100 * counts[k] / total:9.1f}" for k in KINDS)
        print(f"{part:24} {share:6.1f}  {split}")
    sums = " ".join(f"{100 * sum(c[k] for c in table.values()) / total:9.1f}" for k in KINDS)
    print(f"{'all':24} {100.0:6.1f}  {sums}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
