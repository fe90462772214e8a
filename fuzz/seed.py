#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets from the fixture pairs: for
each target, every committed pair (side A, side B) of its format, joined as
one input (`len(A) as u32 LE | A | B`, see fuzz/src/lib.rs).

    python3 fuzz/seed.py          # writes fuzz/corpus/<target>/
"""
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIX = ROOT / "fixtures"

PAIRS = {
    "zip": ["pairs/zip-dos/{}/pkg.zip", "archives/infozip/{}/src.zip",
            "archives/wheel/{}/demo_pkg-1.0-cp311-cp311-linux_x86_64.whl"],
    "pyc": ["pairs/pyc-mtime/{}/mod.pyc", "archives/pyc/refs-{}/mod.pyc"],
    "elf": ["diff-demo/{}/hello.o", "elf/c/{}/where.o"],
    "ar": ["diff-demo/{}/libdemo.a", "elf/c/{}/libutil.a"],
    "tar": ["archives/tar/{}/src.tar"],
    "gzip": ["archives/gzip/{}/data.txt.gz", "pairs/gzip-mtime/{}/data.txt.gz",
             "archives/tgz/{}/src.tgz"],
    "text": ["diff-demo/{}/hello.d", "diff-demo/{}/build-info.txt",
             "diff-demo/{}/sources.txt"],
    "binary": ["diff-demo/{}/hello.o", "pairs/pyc-mtime/{}/mod.pyc"],
}
PAIRS["sniff"] = sorted({p for ps in PAIRS.values() for p in ps})


def main():
    for target, pairs in PAIRS.items():
        out = ROOT / "fuzz" / "corpus" / target
        out.mkdir(parents=True, exist_ok=True)
        for i, pattern in enumerate(pairs):
            a = (FIX / pattern.format("a")).read_bytes()
            b = (FIX / pattern.format("b")).read_bytes()
            (out / f"seed-{i}").write_bytes(struct.pack("<I", len(a)) + a + b)
        print(f"{target}: {len(pairs)} seeds in {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
