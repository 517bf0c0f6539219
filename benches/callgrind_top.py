#!/usr/bin/env python3
"""Top functions of a callgrind dump by self and inclusive cost, per request.

usage: callgrind_top.py CALLGRIND_OUT REQUESTS [TOP=15]

Used by benches/profile.sh. callgrind_annotate 3.19 attributes all self cost of these
Rust dumps to __libc_start_main, so self cost is summed here directly from the file:
cost lines belong to the current `fn=`, except the line after `calls=` (the inclusive
cost of that call, which goes to the caller's inclusive cost instead). Standard library
only.
"""
import re
import sys
from collections import defaultdict


def parse(path):
    names = {}  # (kind, id) -> name, for name compression "(id) name" / "(id)"
    self_cost = defaultdict(int)
    call_cost = defaultdict(int)  # inclusive cost of calls made by fn (excluding recursion)
    fn = None
    cfn = None
    after_calls = False
    total = 0

    def name(kind, rest):
        m = re.match(r"\((\d+)\)(?: (.*))?$", rest)
        if not m:
            return rest
        key = (kind, m.group(1))
        if m.group(2) is not None:
            names[key] = m.group(2)
        return names.get(key, rest)

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("fn="):
                fn = name("fn", line[3:])
                continue
            if line.startswith("cfn="):
                cfn = name("fn", line[4:])
                continue
            if line.startswith(("fl=", "fi=", "fe=", "ob=", "cob=", "cfi=", "cfl=")):
                kind = "ob" if "ob=" in line[:4] else "fl"
                name(kind, line.split("=", 1)[1])
                continue
            if line.startswith("calls="):
                after_calls = True
                continue
            if line.startswith(("summary:", "totals:")):
                total = total or int(line.split()[1])
                continue
            if not (line[0].isdigit() or line[0] in "+-*"):
                continue
            parts = line.split()
            if len(parts) < 2 or fn is None:
                after_calls = False
                continue
            cost = int(parts[1])
            if after_calls:
                if cfn != fn:
                    call_cost[fn] += cost
                after_calls = False
            else:
                self_cost[fn] += cost
    incl = {f: self_cost[f] + call_cost[f] for f in set(self_cost) | set(call_cost)}
    return total or sum(self_cost.values()), self_cost, incl


def short(n, width=110):
    n = re.sub(r"::h[0-9a-f]{16}$", "", n)
    return n if len(n) <= width else n[: width - 3] + "..."


def main():
    path, reqs = sys.argv[1], int(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    total, self_cost, incl = parse(path)
    print(f"total {total:,} Ir = {total / reqs:,.0f} Ir per request ({reqs} requests)\n")
    for title, table in (("self", self_cost), ("inclusive", incl)):
        print(f"top {top} by {title} cost: Ir/request  share  function")
        # (inclusive: the call chain above the work, main -> block_on, is left out)
        rows = [kv for kv in table.items() if title == "self" or kv[1] < 0.985 * total]
        for f, c in sorted(rows, key=lambda kv: -kv[1])[:top]:
            print(f"  {c / reqs:9,.0f}  {100 * c / total:5.1f}%  {short(f)}")
        print()


if __name__ == "__main__":
    main()
