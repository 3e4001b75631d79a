"""Tests of textspotter.ops.decode (spec §6.4)."""

import math

import pytest
import torch

from textspotter.charset import EOS, Charset
from textspotter.ops.decode import decode_greedy, f_measure

CHARSET = Charset(("a", "b", "c"))  # ids: 0 blank, 1 EOS, 2 rare, 3 a, 4 b, 5 c


def _logits(sequence):
    """[1, T, 6] logits whose softmax puts probability p on id, the rest spread evenly over the other ids."""
    rows = []
    for token, p in sequence:
        probs = torch.full((6,), (1 - p) / 5, dtype=torch.float64)
        probs[token] = p
        rows.append(probs.log())
    return torch.stack(rows).float()[None]


def test_blank_eos_rare_and_both_confidence_rules():
    seq = [(3, 0.9), (0, 0.8), (4, 0.7), (2, 0.65), (1, 0.6), (5, 0.5)]
    texts, product = decode_greedy(_logits(seq), CHARSET)
    assert texts == ["ab^"]  # blank skipped, rare → ^, nothing after EOS
    # Product over t = 0 .. EOS inclusive, blank included: 0.9·0.8·0.7·0.65·0.6.
    assert product.item() == pytest.approx(0.9 * 0.8 * 0.7 * 0.65 * 0.6, rel=1e-5)
    texts, geometric = decode_greedy(_logits(seq), CHARSET, mode="geometric_mean")
    assert texts == ["ab^"]
    # Real positions: a, b, rare (non-blank, before the first EOS).
    assert geometric.item() == pytest.approx((0.9 * 0.7 * 0.65) ** (1 / 3), rel=1e-5)


def test_no_eos_reads_all_positions_and_no_real_token_gives_one():
    batch = torch.cat([_logits([(3, 0.9), (0, 0.5), (5, 0.8)]), _logits([(1, 0.7), (3, 0.9), (0, 0.9)])])
    texts, product = decode_greedy(batch, CHARSET)
    assert texts == ["ac", ""]
    assert product.tolist() == pytest.approx([0.9 * 0.5 * 0.8, 0.7], rel=1e-5)
    _, geometric = decode_greedy(batch, CHARSET, mode="geometric_mean")
    assert geometric.tolist() == pytest.approx([math.sqrt(0.9 * 0.8), 1.0], rel=1e-5)


def test_argmax_ties_take_the_first_id_which_may_be_blank():
    logits = torch.full((1, 2, 6), -200.0)
    logits[0, 0, 3] = 0.0  # p ≈ 1
    logits[0, 1, :] = 0.0  # uniform: p = 1/6 for id 0 (blank, the first maximum) → not real
    _, conf = decode_greedy(logits, CHARSET, mode="geometric_mean")
    assert conf.item() == pytest.approx(1.0)
    assert decode_greedy(logits, CHARSET)[0] == ["a"]  # argmax ties → the first id (blank)


def test_charset_as_list_empty_batch_and_errors():
    texts, conf = decode_greedy(_logits([(4, 0.9)]), ["a", "b", "c"])
    assert texts == ["b"]
    texts, conf = decode_greedy(torch.zeros(0, 5, 6), CHARSET)
    assert texts == [] and conf.shape == (0,)
    bigger_vocab = torch.zeros(1, 1, 8)
    bigger_vocab[0, 0, 7] = 5.0  # id 7 has no character in a 3-character charset
    with pytest.raises(ValueError, match="token id 7"):
        decode_greedy(bigger_vocab, CHARSET)
    with pytest.raises(ValueError, match="mode"):
        decode_greedy(_logits([(3, 0.9)]), CHARSET, mode="mean")
    with pytest.raises(TypeError, match="charset"):
        decode_greedy(_logits([(3, 0.9)]), "abc")


def test_f_measure():
    assert f_measure(0.5, 1.0) == pytest.approx(2 / 3)
    assert f_measure(0.0, 1.0) == pytest.approx(2 / (1e8 + 1))  # clamped to 1e-8, no division by zero
    out = f_measure(torch.tensor([0.5, 0.8]), 1.0)
    assert isinstance(out, torch.Tensor) and out.tolist() == pytest.approx([2 / 3, 2 / (1 / 0.8 + 1)])
    assert f_measure(0.9, torch.tensor([0.9])).tolist() == pytest.approx([0.9])


def test_collapse_repeats_is_ctc_best_path_decoding():
    charset = Charset(("a", "b"))  # a = 3, b = 4
    path = torch.tensor([[3, 3, 0, 3, 4, 4, 0, 0], [0, 4, 0, 4, 3, 0, 3, 3]])
    logits = torch.full((2, 8, 5), -10.0)
    logits[torch.arange(2)[:, None], torch.arange(8)[None], path] = 10.0
    logits[0, 1, 3] = 2.0  # the repeated "a" is less certain; a collapsed position is not in the confidence
    logits[0, 1, 0] = 1.9
    texts, conf = decode_greedy(logits, charset, mode="geometric_mean", collapse_repeats=True)
    assert texts == ["aab", "bbaa"]
    assert torch.allclose(conf, torch.ones(2), atol=1e-6)
    # Without collapsing (the published rule) repeats are kept.
    assert decode_greedy(logits, charset, mode="geometric_mean")[0] == ["aaabb", "bbaaa"]


def test_batch_decoding_equals_decoding_row_by_row():
    charset = Charset(("a", "b", "ab", "é"))
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, charset.num_tokens, (200, 12), generator=generator)
    ids[::4, 5] = EOS  # text ends mid-row
    ids[::7] = 0  # all blank: empty text
    assert charset.decode_batch(ids) == [charset.decode(row) for row in ids.tolist()]
    assert charset.decode_batch(ids.numpy()) == charset.decode_batch(ids)
    assert charset.decode_batch(torch.zeros((0, 5), dtype=torch.int64)) == []
    assert charset.decode_batch(torch.zeros((3, 0), dtype=torch.int64)) == ["", "", ""]
    # An id past the vocabulary fails before the first EOS and is dropped after it, as in decode().
    past = charset.num_tokens
    with pytest.raises(ValueError, match="outside the vocabulary"):
        charset.decode_batch(torch.tensor([[3, past, EOS]]))
    assert charset.decode_batch(torch.tensor([[3, EOS, past]])) == ["a"]
    with pytest.raises(ValueError, match="an \\[N, T\\] array"):
        charset.decode_batch(torch.tensor([3, 4]))
