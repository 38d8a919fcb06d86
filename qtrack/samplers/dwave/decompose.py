"""Cutting a BQM into QPU-sized sub-problems, as numpy and scipy arrays (no Ocean needed).

Components of up to ``size`` variables are packed, several to a sub-problem; larger components are
cut into blocks grown along the negative (track-continuation) couplers first, so neighbouring
triplets of a track stay together. Several block layouts with offset boundaries let a block
descent move what one layout's boundary freezes.
"""
from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass

import dimod
import numpy as np

from ...errors import SamplerError


class Graph:
    """A BINARY BQM over positions 0..n-1: linear biases and a symmetric CSR coupling matrix."""

    def __init__(self, bqm: dimod.BinaryQuadraticModel):
        import scipy.sparse as sp

        if bqm.vartype is not dimod.BINARY:
            bqm = bqm.change_vartype(dimod.BINARY, inplace=False)
        self.labels = list(bqm.variables)
        n = len(self.labels)
        h, (r, c, q), off = bqm.to_numpy_vectors(variable_order=self.labels)
        self.n = n
        self.h = np.asarray(h, dtype=np.float64)
        self.offset = float(off)
        r = np.asarray(r, dtype=np.int64)
        c = np.asarray(c, dtype=np.int64)
        q = np.asarray(q, dtype=np.float64)
        self.W = sp.csr_matrix((np.concatenate([q, q]), (np.concatenate([r, c]),
                                                         np.concatenate([c, r]))), shape=(n, n))
        self.W.sort_indices()
        self.degree = np.diff(self.W.indptr)

    def lists(self):
        """The CSR arrays and degrees as Python lists, built once: the block growth walks them
        node by node, where numpy slicing would cost more than the work."""
        if getattr(self, "_lists", None) is None:
            self._lists = (self.W.indptr.tolist(), self.W.indices.tolist(),
                           self.W.data.tolist(), self.degree.tolist())
        return self._lists

    def components(self) -> list[np.ndarray]:
        from scipy.sparse.csgraph import connected_components

        if self.n == 0:
            return []
        ncomp, lab = connected_components(self.W, directed=False)
        order = np.argsort(lab, kind="stable")
        bounds = np.searchsorted(lab[order], np.arange(ncomp + 1))
        return [order[bounds[k]:bounds[k + 1]] for k in range(ncomp)]

    def energy(self, x: np.ndarray) -> float:
        return float(self.offset + self.h @ x + 0.5 * x @ (self.W @ x))

    def canonical_order(self, nodes: np.ndarray) -> np.ndarray:
        """BFS order of ``nodes`` (one component) from its lowest-degree, lowest-index node,
        neighbours by (degree, index): isomorphic small components (chains...) get equal keys."""
        nodes = np.asarray(nodes)
        if len(nodes) <= 1:
            return nodes
        ptr, idx, _, deg = self.lists()
        members = nodes.tolist()
        inset = set(members)
        start = min(members, key=lambda v: (deg[v], v))
        seen = {start}
        out = [start]
        dq = deque([start])
        while dq:
            u = dq.popleft()
            for v in sorted((v for v in idx[ptr[u]:ptr[u + 1]] if v in inset and v not in seen),
                            key=lambda v: (deg[v], v)):
                seen.add(v)
                out.append(v)
                dq.append(v)
        if len(out) < len(nodes):  # not connected: append the rest by index
            out.extend(sorted(inset - seen))
        return np.asarray(out, dtype=np.int64)

    def grow_blocks(self, nodes: np.ndarray, size: int, first: int | None = None,
                    sweep: np.ndarray | None = None) -> list[np.ndarray]:
        """Cut one component into blocks of at most ``size`` variables along the track structure.

        Blocks grow breadth-first from a peripheral variable, through negative (track
        continuation) couplers first and conflict couplers only when no negative neighbour is
        left, so a track's consecutive triplets land in the same block. Seeds follow a BFS order
        of the whole component, so consecutive blocks are neighbours. Blocks under a quarter of
        ``size`` are merged into the neighbouring block they couple to most, when it has room.
        ``first`` caps the first block (``size // 2`` shifts every boundary by half a block).
        ``sweep`` is ``canonical_order(nodes)`` when the caller has it already.
        """
        if sweep is None:
            sweep = self.canonical_order(nodes)
        ptr, idx, dat, _ = self.lists()
        sweep = sweep.tolist()
        owner = {v: -1 for v in sweep}
        blocks: list[list[int]] = []
        pos = 0
        while True:
            while pos < len(sweep) and owner[sweep[pos]] != -1:
                pos += 1
            if pos == len(sweep):
                break
            bid = len(blocks)
            block: list[int] = []
            neg, conf = deque([sweep[pos]]), deque()
            cap = first if (bid == 0 and first) else size
            while len(block) < cap:
                if neg:
                    u = neg.popleft()
                elif conf:
                    u = conf.popleft()
                else:  # the block's neighbourhood is exhausted: continue at the next seed
                    while pos < len(sweep) and owner[sweep[pos]] != -1:
                        pos += 1
                    if pos == len(sweep):
                        break
                    u = sweep[pos]
                if owner[u] != -1:
                    continue
                owner[u] = bid
                block.append(u)
                a, b = ptr[u], ptr[u + 1]
                for v, wv in zip(idx[a:b], dat[a:b]):
                    if owner.get(v, 0) == -1:
                        (neg if wv < 0 else conf).append(v)
            blocks.append(block)
        # merge small blocks into the neighbour they are most coupled to
        sizes = [len(b) for b in blocks]
        alive = [True] * len(blocks)
        for bid in sorted(range(len(blocks)), key=lambda b: (sizes[b], b)):
            if not alive[bid] or sizes[bid] >= max(1, size // 4):
                continue
            links: dict[int, float] = {}
            for u in blocks[bid]:
                a, b = ptr[u], ptr[u + 1]
                for v, wv in zip(idx[a:b], dat[a:b]):
                    o = owner.get(v, -1)
                    if o != bid and o != -1:
                        links[o] = links.get(o, 0.0) + abs(wv)
            for o in sorted(links, key=lambda o: (-links[o], o)):
                if alive[o] and sizes[o] + sizes[bid] <= size:
                    blocks[o].extend(blocks[bid])
                    for u in blocks[bid]:
                        owner[u] = o
                    sizes[o] += sizes[bid]
                    alive[bid] = False
                    blocks[bid] = []
                    break
        return [np.asarray(b, dtype=np.int64) for b, a in zip(blocks, alive) if a and b]


def edges_key(k: int, edges: np.ndarray) -> str:
    h = hashlib.sha1(np.int64(k).tobytes())
    h.update(np.ascontiguousarray(edges, dtype=np.int64).tobytes())
    return h.hexdigest()


@dataclass
class Unit:
    """One QPU sub-problem: variables (global positions, in local order) and their groups.

    A group is the set of variables whose new values are accepted or rejected together: a whole
    component in a packed unit, the whole block in a block of a split component.
    """

    order: np.ndarray
    groups: np.ndarray            # local position -> group number within the unit
    ngroups: int
    edges: np.ndarray             # (m, 2) local edges, i < j, sorted
    key: str
    component: int = -1           # split component number (-1: packed whole components)
    partition: int = 0            # which of the component's partitions the block belongs to
    rank: tuple = ()              # growth order of the block within its partition
    embedding: dict | None = None

    @property
    def size(self) -> int:
        return len(self.order)


def make_unit(g: Graph, parts: list[np.ndarray], component: int = -1,
               partition: int = 0) -> Unit:
    order = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    groups = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)]) if parts else \
        np.empty(0, dtype=np.int64)
    sub = g.W[order][:, order].tocoo()
    mask = sub.row < sub.col
    edges = np.stack([sub.row[mask], sub.col[mask]], axis=1).astype(np.int64)
    if len(edges):
        edges = edges[np.lexsort((edges[:, 1], edges[:, 0]))]
    return Unit(order=order, groups=groups, ngroups=len(parts), edges=edges,
                 key=edges_key(len(order), edges), component=component, partition=partition)



@dataclass
class Plan:
    packed: list[Unit]
    #: split component -> its partitions (block layouts with offset boundaries) -> blocks
    blocks: dict[int, list[list[Unit]]]
    components: int
    largest_component: int

    def units(self) -> list[Unit]:
        return self.packed + [u for parts in self.blocks.values() for b in parts for u in b]

    def summary(self) -> dict:
        units = self.units()
        return {
            "components": self.components,
            "largest_component": self.largest_component,
            "packed_subproblems": len(self.packed),
            "split_components": len(self.blocks),
            "blocks": sum(len(b) for parts in self.blocks.values() for b in parts),
            "distinct_subproblem_graphs": len({u.key for u in units}),
        }


def _bar(progress: bool, total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="var" if desc == "decomposing" else "sub-problem",
                disable=not progress, leave=False, dynamic_ncols=True)


def plan(g: Graph, cache, size: int, workers: int,
          partitions: int, progress: bool = False) -> Plan:
    """Decompose ``g`` and embed every sub-problem through ``cache`` (an embedder of
    :mod:`~qtrack.samplers.dwave.embedding`: anything with ``embed_units``): a sub-problem that
    does not embed is cut in half until it does. ``progress`` shows a bar (stderr) through the
    decomposition and another through the embedding."""
    comps = g.components()
    small = [g.canonical_order(c) for c in comps if len(c) <= size]
    large = [np.sort(c) for c in comps if len(c) > size]
    large.sort(key=lambda c: int(c[0]))
    # pack small components: sorted by (size, shape) so equal shapes share bins (and embeddings)
    keyed = [(len(c), make_unit(g, [c]).key, int(c.min()), c) for c in small]
    keyed.sort(key=lambda t: (-t[0], t[1], t[2]))
    bins: list[list[np.ndarray]] = []
    cur: list[np.ndarray] = []
    fill = 0
    for n, _, _, c in keyed:
        if fill + n > size and cur:
            bins.append(cur)
            cur, fill = [], 0
        cur.append(c)
        fill += n
    if cur:
        bins.append(cur)
    pending: list[tuple[Unit, list[np.ndarray] | None]] = [(make_unit(g, b), b) for b in bins]
    with _bar(progress, partitions * sum(len(c) for c in large), "decomposing") as bar:
        for ci, c in enumerate(large):
            sweep = g.canonical_order(c)
            firsts = [None] + [max(1, size * k // partitions) for k in range(1, partitions)]
            for p, first in enumerate(firsts):
                for i, blk in enumerate(g.grow_blocks(c, size, first, sweep=sweep)):
                    u = make_unit(g, [blk], ci, p)
                    u.rank = (i,)
                    pending.append((u, None))
                bar.update(len(c))
    done: list[Unit] = []
    next_component = len(large)
    with _bar(progress, len(pending), "embedding") as bar:
        while pending:
            cache.embed_units([u for u, _ in pending], workers=workers, progress=bar.update)
            nxt = []
            for u, parts in pending:
                if u.embedding:
                    done.append(u)
                elif u.size <= 1:
                    raise SamplerError("could not embed a single variable: "
                                       "is the QPU graph empty?")
                elif parts is not None and len(parts) > 1:  # a bin: halve its components
                    half = len(parts) // 2
                    nxt += [(make_unit(g, parts[:half]), parts[:half]),
                            (make_unit(g, parts[half:]), parts[half:])]
                else:  # one component or one block: cut it into blocks of half the size
                    cid = u.component
                    if cid < 0:
                        cid, next_component = next_component, next_component + 1
                    for i, blk in enumerate(g.grow_blocks(u.order,
                                                          max(1, (u.size + 1) // 2))):
                        v = make_unit(g, [blk], cid, u.partition)
                        v.rank = u.rank + (i,)
                        nxt.append((v, None))
            bar.total += len(nxt)
            bar.refresh()
            pending = nxt
    packed = [u for u in done if u.component < 0]
    blocks: dict[int, list[list[Unit]]] = {}
    for u in done:
        if u.component >= 0:
            parts = blocks.setdefault(u.component, [])
            while len(parts) <= u.partition:
                parts.append([])
            parts[u.partition].append(u)
    for parts in blocks.values():  # sweep order: growth order (the seed is the first variable)
        for b in parts:
            b.sort(key=lambda u: u.rank)
    return Plan(packed=packed, blocks=blocks, components=len(comps),
                 largest_component=max((len(c) for c in comps), default=0))



class Subgraph(Graph):
    """The restriction of a :class:`Graph` to some positions (relabelled 0..k-1); with ``clamp``
    (0/1 over all of ``g``), the couplings to the positions left out are folded into the linear
    biases at their values in ``clamp``."""

    def __init__(self, g: Graph, nodes: np.ndarray, clamp: np.ndarray | None = None):
        nodes = np.asarray(nodes, dtype=np.int64)
        self.labels = nodes.tolist()
        self.n = len(nodes)
        self.h = g.h[nodes]
        if clamp is not None:
            outside = np.asarray(clamp, dtype=np.float64).copy()
            outside[nodes] = 0.0
            self.h = self.h + g.W[nodes] @ outside
        self.offset = 0.0
        self.W = g.W[nodes][:, nodes].tocsr()
        self.W.sort_indices()
        self.degree = np.diff(self.W.indptr)



def triu(g: Graph):
    """The couplers of ``g`` once each (i < j), as (rows, columns, values)."""
    coo = g.W.tocoo()
    m = coo.row < coo.col
    return coo.row[m], coo.col[m], coo.data[m]
