#!/usr/bin/env python3
"""Make PyPI's CUDA build of torch import on a machine without CUDA.

PyPI's Linux x86-64 ``torch`` wheel is the CUDA build: its libraries link
against about a dozen NVIDIA libraries (cuBLAS, cuDNN, NCCL, …) that pip
would bring as several gigabytes of ``nvidia-*`` wheels. For CPU-only work
none of their code ever runs, but the dynamic linker still wants every one
of them, with every symbol torch names, when ``torch._C`` loads.

This script writes, into torch's own ``lib/`` folder (on its ``$ORIGIN``
rpath), one small stub library per missing NVIDIA library: the same soname,
the same symbol versions, every symbol torch's libraries import from it
defined (functions return 35, ``cudaErrorInsufficientDriver``, so a CUDA
call fails cleanly: ``torch.cuda.is_available()`` is False). Needs
``objdump``, ``ldd`` and a C compiler. Usage (tools/pytorch/README.md):

    /tmp/torchvenv/bin/python tools/pytorch/cuda_stubs.py

It is idempotent; ``--remove`` deletes the stubs it wrote.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

MARK = "axon-cuda-stub"  # written into each stub, so --remove deletes only ours
SYSTEM_VERSIONS = re.compile(r"^(GLIBC|GLIBCXX|CXXABI|GCC|Base$)")


def torch_lib() -> Path:
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        raise SystemExit("torch is not installed in this interpreter's environment")
    return Path(spec.origin).parent / "lib"


def objdump(path: Path) -> list[tuple[bool, str, str, str]]:
    """(undefined, kind F/O, version, name) of each dynamic symbol."""
    out = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True,
                         check=True).stdout
    syms = []
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ (.{7}) (\S+)\s+[0-9a-f]+\s+(\(?[^\s)]*\)?)\s+(\S+)$", line)
        if not m:
            continue
        flags, section, version, name = m.groups()
        kind = "O" if "O" in flags else "F"
        syms.append((section == "*UND*", kind, version.strip("()"), name))
    return syms


def version_files(path: Path) -> dict[str, str]:
    """Version requirement name -> the needed file that must define it (readelf -V)."""
    out = subprocess.run(["readelf", "-V", "-W", str(path)], capture_output=True, text=True,
                         check=True).stdout
    files, current = {}, None
    for line in out.splitlines():
        if m := re.search(r"File: (\S+)", line):
            current = m.group(1)
        elif (m := re.search(r"Name: (\S+)", line)) and current is not None:
            files[m.group(1)] = current
    return files


def is_stub(path: Path) -> bool:
    return path.stat().st_size < 1 << 22 and MARK.encode() in path.read_bytes()


def missing_libs(libs: list[Path]) -> set[str]:
    missing = set()
    for lib in libs:
        out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True).stdout
        missing |= {m.group(1) for m in re.finditer(r"^\s*(\S+) => not found", out, re.M)}
    return missing


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--remove", action="store_true", help="delete the stubs this script wrote")
    args = ap.parse_args()
    lib = torch_lib()
    for p in lib.glob("*.so*"):
        if is_stub(p):
            p.unlink()
            if args.remove:
                print(f"removed {p.name}")
    if args.remove:
        return 0
    here = sorted(lib.glob("*.so*"))
    # Every torch library, and torch/_C: what they import, what they define.
    objs = here + sorted(lib.parent.glob("_C*.so"))
    missing = sorted(missing_libs(objs))
    if not missing:
        print("nothing missing: torch's libraries all resolve")
        return 0
    defined: set[str] = set()
    wanted: dict[str, dict[str, str]] = defaultdict(dict)  # soname -> {symbol: kind}
    unversioned: dict[str, str] = {}
    # soname -> {version: [symbols]}
    versions: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for o in objs:
        files = version_files(o)
        for undef, kind, version, name in objdump(o):
            if not undef:
                defined.add(name)
            elif files.get(version) in missing:
                wanted[files[version]][name] = kind
                versions[files[version]][version].append(name)
            elif version in ("", "Base"):
                unversioned[name] = kind
    # System libraries torch loads: what they define is not missing.
    for so in ("libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libdl.so.2",
               "libpthread.so.0", "librt.so.1"):
        out = subprocess.run(["sh", "-c", f"ldconfig -p | grep -m1 '{so} ' | sed 's/.*=> //'"],
                             capture_output=True, text=True).stdout.strip()
        if out:
            defined |= {n for u, _, _, n in objdump(Path(out)) if not u}
    loose = {n: k for n, k in unversioned.items() if n not in defined}
    # An unversioned import may come from any library in the importer's
    # scope: the CUDA runtime's stub, which every CUDA-linked torch library needs.
    home = next((s for s in missing if s.startswith("libcudart.so")), missing[0])
    with tempfile.TemporaryDirectory() as tmp:
        for i, soname in enumerate(missing):
            syms = dict(wanted.get(soname, {}))
            if soname == home:
                syms.update(loose)
            src = Path(tmp) / "stub.c"
            body = [f'const char axon_stub_mark_{i}[] = "{MARK} {soname}";']
            for name, kind in sorted(syms.items()):
                if kind == "O":
                    body.append(f"char {name}[256] __attribute__((aligned(64)));")
                else:
                    body.append(f"long {name}(void) {{ return 35; }}")
            src.write_text("\n".join(body) + "\n")
            vers = Path(tmp) / "stub.map"
            # Versioned imports need their version nodes; the rest stay unversioned.
            vers.write_text("".join(
                f"{v} {{ global: {' '.join(f'{n};' for n in sorted(set(ns)))} }};\n"
                for v, ns in sorted(versions.get(soname, {}).items())
            ))
            subprocess.run(["cc", "-shared", "-fPIC", "-w", "-o", str(lib / soname), str(src),
                            f"-Wl,-soname,{soname}"]
                           + ([f"-Wl,--version-script={vers}"] if vers.read_text() else []),
                           check=True)
            print(f"{soname}: {len(syms)} symbols")
    return 0


if __name__ == "__main__":
    sys.exit(main())
