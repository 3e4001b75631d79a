"""Relation matrices → word chains (lines) → line chains (paragraphs) (spec §7.6).

The relational model scores, for every region i, which region j follows it in the same line ("word" channel) and
which line follows i's line ("line" channel, with a log-variance). :func:`dense_relations_to_graph` is the exact
chain-building algorithm of the reference op; :func:`group_relations` applies it twice as the reference pipeline
does: once over words, once over lines after an uncertainty-weighted aggregation of the line logits.
"""

from __future__ import annotations

import torch

__all__ = ["dense_relations_to_graph", "group_relations", "RELATION_THRESHOLD"]

RELATION_THRESHOLD = 0.5
"""A relation ``M[f, t]`` counts as a link when it is at least this (spec §7.6.1)."""

# Denominator floor of the inverse-variance weighted mean of line logits (spec §7.6 step 3).
_MIN_WEIGHT_SUM = 1e-6


def dense_relations_to_graph(relations: torch.Tensor) -> list[list[int]]:
    """Turn a dense ``from → to`` relation matrix into ordered chains (exact algorithm of spec §7.6.1).

    1. Each row ``f`` links to the **first** column ``t`` (lowest index) with ``M[f, t] ≥ 0.5`` and scans no
       further, even if it then loses ``t`` to another row. A column claimed by several rows goes to the
       strictly highest probability; on ties the earliest row (lowest ``f``) keeps it.
    2. For ``t = 0 .. n−1`` that has a predecessor and is not yet used: walk back through predecessors while they
       are unused, reverse, then walk forward through successors while they are unused; emit that chain.
    3. Emit every still-unused index as a singleton chain, in increasing order.

    Args:
        relations: ``[n, n]`` probabilities (float, or 0/1 bool/int), ``M[f, t]`` = "t follows f".

    Returns:
        Chains of indices in emission order; every index in ``0 .. n−1`` appears exactly once.

    Raises:
        ValueError: if ``relations`` is not a square matrix.

    >>> m = torch.tensor([[0.0, 0.9, 0.0], [0.0, 0.0, 0.8], [0.0, 0.0, 0.0]])
    >>> dense_relations_to_graph(m)
    [[0, 1, 2]]
    """
    if not isinstance(relations, torch.Tensor) or relations.ndim != 2 or relations.shape[0] != relations.shape[1]:
        raise ValueError(f"relations must be a square [n, n] tensor, got {getattr(relations, 'shape', None)}")
    matrix = relations.detach().to("cpu", torch.float32)
    num = matrix.shape[0]
    if num == 0:
        return []
    above = matrix >= RELATION_THRESHOLD
    has_link = above.any(1).tolist()
    first = above.to(torch.uint8).argmax(1)  # argmax returns the first maximal index: the first column ≥ 0.5
    first_prob = matrix.gather(1, first[:, None]).squeeze(1).tolist()
    first = first.tolist()

    pred = [-1] * num
    pred_prob = [0.0] * num
    for f in range(num):
        if not has_link[f]:
            continue
        t = first[f]
        if pred[t] < 0 or first_prob[f] > pred_prob[t]:
            pred[t] = f
            pred_prob[t] = first_prob[f]
    succ = [-1] * num
    for t in range(num):
        if pred[t] >= 0:
            succ[pred[t]] = t

    used = [False] * num
    chains: list[list[int]] = []
    for t in range(num):
        if pred[t] < 0 or used[t]:
            continue
        used[t] = True
        chain = [t]
        node = t
        while pred[node] >= 0 and not used[pred[node]]:
            node = pred[node]
            used[node] = True
            chain.append(node)
        chain.reverse()
        node = t
        while succ[node] >= 0 and not used[succ[node]]:
            node = succ[node]
            used[node] = True
            chain.append(node)
        chains.append(chain)
    chains.extend([i] for i in range(num) if not used[i])
    return chains


def _check_relation_logits(name: str, logits: torch.Tensor, num: int | None) -> int:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[1] != logits.shape[0] + 1:
        raise ValueError(f"{name} must be an [n, n+1] tensor, got {getattr(logits, 'shape', type(logits))}")
    if num is not None and logits.shape[0] != num:
        raise ValueError(f"{name} has {logits.shape[0]} rows but word_logits has {num}")
    return logits.shape[0]


def group_relations(
    word_logits: torch.Tensor, line_logits: torch.Tensor, line_log_var: torch.Tensor
) -> list[list[list[int]]]:
    """Group one image's regions into lines and paragraphs from the relational logits (spec §7.6 steps 1–4).

    1. ``Pw = softmax(word_logits, dim=1)[:, 1:]`` (column 0 is the null link) and
       lines = :func:`dense_relations_to_graph` ``(Pw)``.
    2. For line ``l`` and target column group ``m`` (0 = null, ``line + 1`` otherwise) the line logit is the
       inverse-variance weighted mean ``A[l, m] = Σ w·g / max(Σ w, 1e-6)`` over the words ``i`` of ``l`` and
       columns ``k`` whose word is in group ``m``, with ``w = exp(−line_log_var)`` and ``g = line_logits`` where
       ``line_logits ≠ −inf`` (0 elsewhere, so a pair of lines with no valid entry gets ``A = 0``, not −inf).
    3. ``A[l, l+1] = −inf``; ``P = softmax(A)``; ``H = 1`` where ``P`` equals its row maximum (ties give several
       ones); drop the null column, and paragraphs = :func:`dense_relations_to_graph` ``(H)``.

    Note the reference quirk kept here: a line with no valid line links and a negative null logit has ``A = 0``
    for every other line, so its row of ``H`` is all ones and it links to the first line it may claim.

    Args:
        word_logits: ``[n, n+1]`` "next word" logits of one image (−inf for non-neighbours).
        line_logits: ``[n, n+1]`` "next line" logits (−inf for non-neighbours).
        line_log_var: ``[n, n+1]`` log-variance of ``line_logits``.

    Returns:
        Paragraphs in emission order, each a list of lines, each a list of word (region) indices in reading
        order. Every index ``0 .. n−1`` appears exactly once. ``[]`` when ``n = 0``.

    Raises:
        ValueError: if the three matrices are not ``[n, n+1]`` with the same ``n``.
    """
    num = _check_relation_logits("word_logits", word_logits, None)
    _check_relation_logits("line_logits", line_logits, num)
    _check_relation_logits("line_log_var", line_log_var, num)
    if num == 0:
        return []
    device = word_logits.device
    word_probs = torch.softmax(word_logits.detach().float(), dim=1)[:, 1:]
    lines = dense_relations_to_graph(word_probs)
    num_lines = len(lines)

    line_of_word = torch.empty(num, dtype=torch.int64)
    for index, chain in enumerate(lines):
        line_of_word[chain] = index
    line_of_word = line_of_word.to(device)
    # Column k ≥ 1 of the logits refers to word k−1; column 0 (null) stays group 0.
    column_group = torch.cat([torch.zeros(1, dtype=torch.int64, device=device), line_of_word + 1])

    logits = line_logits.detach().float()
    valid = logits != float("-inf")
    weight = torch.where(valid, torch.exp(-line_log_var.detach().float()), torch.zeros_like(logits))
    value = torch.where(valid, logits, torch.zeros_like(logits))

    def aggregate(per_pair: torch.Tensor) -> torch.Tensor:
        """Sum ``[n, n+1]`` entries over words of each line (rows) and column groups → ``[Lc, Lc+1]``."""
        by_column = per_pair.new_zeros((num, num_lines + 1)).index_add_(1, column_group, per_pair)
        return per_pair.new_zeros((num_lines, num_lines + 1)).index_add_(0, line_of_word, by_column)

    weight_sum = aggregate(weight)
    line_links = aggregate(weight * value) / weight_sum.clamp(min=_MIN_WEIGHT_SUM)
    self_column = torch.arange(num_lines, device=device)
    line_links[self_column, self_column + 1] = float("-inf")  # a line never follows itself
    probs = torch.softmax(line_links, dim=1)
    best = (probs == probs.amax(1, keepdim=True)).float()[:, 1:]  # (Lc, Lc+1) -> (Lc, Lc): drop the null column
    paragraphs = dense_relations_to_graph(best)
    return [[lines[j] for j in chain] for chain in paragraphs]
