#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The layering rules of libvdpamap (docs: /work/plan/ARCH.md, issue 12),
checked on the library's object files.

    check-layers.py [--src DIR] OBJECT|DIR|ARCHIVE|@LISTFILE ...
    check-layers.py --write-list FILE OBJECT...   (for meson: see below)

From `nm` of every object: which object uses a global symbol another one
defines (the file-level graph).  It fails, saying why, on

  cycle      two files (or more) that reach each other: the graph must be
             acyclic, also inside a module (recursion inside a file is fine)
  layer      an edge between modules that goes up the order
                 iova_tree < transport < core < iotlb < mapping < lifecycle
                 < migrate < handoff
             (mgmt may use any module below handoff; sim may use only
             transport, uapi and virtio; vduse, the VDUSE daemon, only
             uapi and virtio; virtio, the device's side of a virtqueue,
             nothing; nobody uses mgmt, sim or vduse, and only sim and
             vduse use virtio)
  weak       a weak symbol the library defines (nm W/V), or a weak
             reference (w/v) to a symbol one of its objects defines
  public     a public vdpamap_* function called from another object than
             its own (internals call the internal vdm_* function)
  container  with --src: container_of() in one module on a struct that
             another module defines
  include    with --src: a file of src/<module>/ including a header of a
             module it may not use ("module/x.h")
  module     an object whose module cannot be told (the check is blind)

An object's module comes from its name as meson makes it (src/core/util.c
in a target of src/ is core_util.c.o; src_core_util.c.o from the top) or
from its path in the build tree (src/handoff/keeper/...).  A directory
argument means every *.o below it; @FILE reads more arguments from FILE,
one a line.  --write-list FILE writes the absolute paths of its arguments
to FILE and exits: meson hands extract_all_objects() to a custom_target,
not to a test, so tests/abi/meson.build makes the list at build time.
Exit 0: clean; 1: a violation; 2: usage or nm failing.
"""

import argparse
import collections
import os
import re
import subprocess
import sys

ORDER = ['uapi', 'iova_tree', 'transport', 'core', 'iotlb', 'mapping', 'lifecycle',
         'migrate', 'handoff']
SIDE = ['mgmt', 'sim', 'vduse']
# the device's side of a virtqueue: uses nothing, used by sim and vduse
LEAF = ['virtio']
MODULES = ORDER + SIDE + LEAF
RANK = {m: i for i, m in enumerate(ORDER)}
# nm types of a global definition (lowercase ones are file-local, but for
# 'u' unique and 'i' ifunc)
DEFINED = set('TDBRGSCVWui')
NM_LINE = re.compile(r'^(?P<file>.*):(?P<addr>[0-9a-fA-F]*)\s+'
                     r'(?P<type>\S)\s+(?P<name>\S+)$')


def may_use(a, b):
    """May a file of module a use a symbol of module b?"""
    if a == b:
        return True
    if b in LEAF:
        return a in ('sim', 'vduse')
    if a in LEAF:
        return False
    if b in SIDE:
        return False
    if a == 'sim':
        return b in ('transport', 'uapi')
    if a == 'vduse':
        return b == 'uapi'
    if a == 'mgmt':
        return RANK[b] < RANK['handoff']
    return RANK[b] < RANK[a]


def rule_text(a):
    if a == 'sim':
        return 'sim may use only itself, transport, uapi and virtio'
    if a == 'vduse':
        return 'vduse may use only itself, uapi and virtio'
    if a in LEAF:
        return '%s may use only itself' % a
    if a == 'mgmt':
        return 'mgmt may use only itself and modules below handoff'
    return '%s may use only %s' % (a, ', '.join(['itself'] +
                                                ORDER[:RANK[a]]))


def expand(args):
    out = []
    for a in args:
        if a.startswith('@'):
            with open(a[1:]) as f:
                out += expand([l.strip() for l in f if l.strip()])
        elif os.path.isdir(a):
            for root, _, files in os.walk(a):
                out += [os.path.join(root, f) for f in sorted(files)
                        if f.endswith('.o')]
        else:
            out.append(a)
    return out


def module_of(path):
    """(module, display name) of an object file, or (None, path)."""
    base = os.path.basename(path)
    stem = re.sub(r'\.(c|S)\.o$|\.o$', '', base)
    if stem.startswith('src_'):
        stem = stem[4:]
    # a target of src/vduse/ building ../virtio/x.c names it .._virtio_x
    stem = re.sub(r'^(\.\._)+', '', stem)
    for m in sorted(MODULES, key=len, reverse=True):
        if stem.startswith(m + '_'):
            return m, '%s/%s.c' % (m, stem[len(m) + 1:])
    # by the build tree's mirror of src/: .../src/<module>/[sub/]x.p/y.o
    parts = os.path.normpath(path).split(os.sep)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == 'src' and i + 1 < len(parts) and \
                parts[i + 1] in MODULES:
            dirs = [p for p in parts[i + 1:-1] if not p.endswith('.p')]
            return parts[i + 1], '/'.join(dirs + [stem + '.c'])
    return None, path


def read_nm(objs):
    """{object: [(type, name)]}, members of an archive one by one."""
    syms = collections.OrderedDict()
    for o in objs:
        try:
            r = subprocess.run(['nm', '-A', o], capture_output=True,
                               text=True)
        except OSError as e:
            sys.exit('check-layers: cannot run nm: %s' % e)
        if r.returncode != 0:
            print('check-layers: nm %s: %s' % (o, r.stderr.strip()),
                  file=sys.stderr)
            sys.exit(2)
        if o not in syms and not o.endswith('.a'):
            syms[o] = []
        for line in r.stdout.splitlines():
            m = NM_LINE.match(line)
            if not m:
                continue
            f = m.group('file')
            if o.endswith('.a') and f.startswith(o + ':'):
                f = f[len(o) + 1:]
            syms.setdefault(f, []).append((m.group('type'),
                                           m.group('name')))
    return syms


def find_cycle(g, scc):
    """One elementary cycle through the first node of scc (BFS)."""
    start = sorted(scc)[0]
    prev = {start: None}
    queue = collections.deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(g[v]):
            if w not in scc:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return [start, start]


def sccs(g):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(set(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def split_args(text, start):
    """The arguments of the call whose '(' is at text[start]."""
    depth, args, cur = 0, [], []
    for i in range(start, len(text)):
        c = text[i]
        if c == '(':
            depth += 1
            if depth == 1:
                continue
        elif c == ')':
            depth -= 1
            if depth == 0:
                args.append(''.join(cur).strip())
                return args
        elif c == ',' and depth == 1:
            args.append(''.join(cur).strip())
            cur = []
            continue
        cur.append(c)
    return args


def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', lambda m: '\n' * m.group(0).count('\n'),
                  text, flags=re.S)
    return re.sub(r'//[^\n]*', '', text)


def check_container_of(src):
    """container_of(p, struct T, m) in module A where T is B's struct."""
    files = []
    for root, _, names in os.walk(src):
        rel = os.path.relpath(root, src).split(os.sep)
        if rel[0] not in MODULES:
            continue
        files += [(rel[0], os.path.join(root, n)) for n in sorted(names)
                  if n.endswith(('.c', '.h'))]
    defined = collections.defaultdict(set)
    texts = {}
    for mod, path in files:
        with open(path, errors='replace') as f:
            texts[path] = strip_comments(f.read())
        for m in re.finditer(r'\bstruct\s+(\w+)\s*\{', texts[path]):
            defined[m.group(1)].add(mod)
    bad = []
    for mod, path in files:
        text = texts[path]
        for m in re.finditer(r'\bcontainer_of\s*\(', text):
            line_start = text.rfind('\n', 0, m.start()) + 1
            if text[line_start:m.start()].lstrip().startswith('#'):
                continue        # the macro's own definition
            args = split_args(text, m.end() - 1)
            if len(args) != 3:
                continue
            t = re.match(r'struct\s+(\w+)$', args[1])
            if not t or not defined.get(t.group(1)):
                continue
            owners = defined[t.group(1)]
            if mod not in owners:
                line = text.count('\n', 0, m.start()) + 1
                bad.append('%s:%d: container_of(%s, struct %s, %s): '
                           'struct %s is %s\'s' %
                           (os.path.relpath(path, os.path.dirname(
                               os.path.normpath(src))), line, args[0],
                            t.group(1), args[2], t.group(1),
                            '/'.join(sorted(owners))))
    return bad


def check_includes(src):
    """#include "<module>/..." of a module the including file may not use."""
    bad = []
    for root, _, names in os.walk(src):
        rel = os.path.relpath(root, src).split(os.sep)
        if rel[0] not in MODULES:
            continue
        for n in sorted(names):
            if not n.endswith(('.c', '.h')):
                continue
            path = os.path.join(root, n)
            with open(path, errors='replace') as f:
                for i, line in enumerate(f, 1):
                    m = re.match(r'\s*#\s*include\s+"(\w+)/', line)
                    if m and m.group(1) in MODULES and \
                            not may_use(rel[0], m.group(1)):
                        bad.append('%s:%d: %s (%s)' % (
                            os.path.relpath(path, os.path.dirname(
                                os.path.normpath(src))), i,
                            line.strip(), rule_text(rel[0])))
    return bad


def main():
    ap = argparse.ArgumentParser(
        description='Check the layering of libvdpamap on its object files.')
    ap.add_argument('--src', help='the source tree\'s src/ directory: '
                    'also check container_of() across modules')
    ap.add_argument('--write-list', metavar='FILE',
                    help='write the absolute paths of the arguments to '
                    'FILE, one a line, and exit')
    ap.add_argument('objects', nargs='+',
                    help='object files, directories of them, archives, '
                    '@listfile')
    opts = ap.parse_args()
    if opts.write_list:
        with open(opts.write_list, 'w') as f:
            f.writelines(os.path.abspath(o) + '\n' for o in opts.objects)
        return 0
    objs = expand(opts.objects)
    if not objs:
        print('check-layers: no object files given', file=sys.stderr)
        return 2
    syms = read_nm(objs)

    problems = collections.OrderedDict((k, []) for k in
                                       ['module', 'weak', 'cycle', 'layer',
                                        'public', 'container', 'include'])
    mod, name = {}, {}
    for o in syms:
        mod[o], name[o] = module_of(o)
        if mod[o] is None:
            problems['module'].append(
                '%s: no module (not src/<module>/...): cannot check it' % o)

    defs = {}
    for o, lst in syms.items():
        for t, s in lst:
            if t in DEFINED:
                # one source built into two programs (virtio/ into the
                # library and the VDUSE daemon) is one definition
                if s in defs and name[defs[s]] != name[o]:
                    problems['layer'].append(
                        '%s defined twice: %s and %s' %
                        (s, name[defs[s]], name[o]))
                defs.setdefault(s, o)

    g = collections.defaultdict(set)
    via = collections.defaultdict(set)
    for o, lst in syms.items():
        g[name[o]]
        for t, s in lst:
            if t in 'WV':
                problems['weak'].append('%s: weak definition of %s (%s)' %
                                        (name[o], s, t))
            if t not in 'Uwv' or s not in defs:
                continue
            d = defs[s]
            if t in 'wv':
                problems['weak'].append(
                    '%s: weak reference (%s) to %s, defined in %s' %
                    (name[o], t, s, name[d]))
            if d == o:
                continue
            g[name[o]].add(name[d])
            via[(name[o], name[d])].add(s)
            if s.startswith('vdpamap_'):
                problems['public'].append(
                    '%s calls the public %s (defined in %s): call the '
                    'internal function' % (name[o], s, name[d]))
            if mod[o] and mod[d] and not may_use(mod[o], mod[d]):
                problems['layer'].append(
                    '%s -> %s (%s -> %s: %s) via %s' %
                    (name[o], name[d], mod[o], mod[d], rule_text(mod[o]),
                     s))

    for comp in sorted(sccs(g), key=lambda c: sorted(c)):
        cyc = find_cycle(g, comp)
        steps = ['%s -[%s]-> ' % (a, ', '.join(sorted(via[(a, b)])))
                 for a, b in zip(cyc, cyc[1:])]
        msg = ['cycle of %d files: %s' % (len(comp),
                                          ' '.join(sorted(comp))),
               '    one loop: ' + ''.join(steps) + cyc[-1]]
        for a in sorted(comp):
            for b in sorted(g[a] & comp):
                msg.append('    %s -> %s: %s' %
                           (a, b, ', '.join(sorted(via[(a, b)]))))
        problems['cycle'].append('\n'.join(msg))

    if opts.src:
        problems['container'] = check_container_of(opts.src)
        problems['include'] = check_includes(opts.src)

    nfail = 0
    for kind, lst in problems.items():
        for p in lst:
            print('%s: %s' % (kind, p))
        nfail += len(lst)
    summary = ', '.join('%d %s' % (len(l), k) for k, l in problems.items()
                        if l)
    nedges = sum(len(v) for v in g.values())
    if nfail:
        print('check-layers: FAIL: %s (%d objects, %d file edges)' %
              (summary, len(syms), nedges))
        return 1
    print('check-layers: %d objects, %d file edges: no cycle, every edge '
          'goes down, no weak symbol, no public call inside%s' %
          (len(syms), nedges, '; no container_of or include across modules'
           if opts.src else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
