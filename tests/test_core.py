import json

import numpy as np
import pytest
import torch

from textspotter.charset import Charset
from textspotter.data.manifest import PageAnnotation, read_manifest, write_manifest
from textspotter.document import Document, Line, Page, Paragraph, Word, bounding_quad, join_words
from textspotter.geometry import aabb_iou, extend_quads, order_quad, quad_aabb, quad_area, quad_height, quad_iou
from textspotter.models.spec import ModelSpec, RecognizerConfig


def test_quad_area_and_aabb():
    q = np.array([[0, 0], [4, 0], [4, 2], [0, 2]], dtype=np.float32)
    assert quad_area(q) == pytest.approx(8.0)
    assert quad_area(torch.from_numpy(q)).item() == pytest.approx(8.0)
    assert quad_aabb(q).tolist() == [0, 0, 4, 2]


def test_ious():
    a = np.array([[0, 0, 2, 2]], dtype=np.float32)
    b = np.array([[1, 0, 3, 2]], dtype=np.float32)
    assert aabb_iou(a, b)[0, 0] == pytest.approx(2 / 6)
    qa = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], dtype=np.float32)
    qb = qa + np.array([1, 0], dtype=np.float32)
    assert quad_iou(qa, qb) == pytest.approx(2 / 6)
    assert quad_iou(qa, qa) == pytest.approx(1.0)


def test_order_quad_from_shuffled_vertices():
    q = np.array([[4, 2], [0, 0], [0, 2], [4, 0]], dtype=np.float32)
    assert order_quad(q).tolist() == [[0, 0], [4, 0], [4, 2], [0, 2]]


def test_charset_roundtrip(tmp_path):
    cs = Charset(("a", "b", "c"))
    assert cs.num_tokens == 6
    assert cs.encode("abz", max_length=6) == [3, 4, 2, 1, 0, 0]
    assert cs.decode([0, 3, 0, 4, 2, 1, 5]) == "ab^"
    cs.to_file(tmp_path / "charset.txt")
    assert Charset.from_file(tmp_path / "charset.txt") == cs
    with pytest.raises(ValueError, match="outside the vocabulary"):
        cs.decode([99])
    (tmp_path / "bad.txt").write_text("{not json")
    with pytest.raises(ValueError, match="bad.txt"):
        Charset.from_file(tmp_path / "bad.txt")


def test_model_spec_roundtrip_and_errors():
    spec = ModelSpec(name="x", recognizer=RecognizerConfig(num_tokens=6), charset=Charset(("a", "b", "c")))
    again = ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    bad = spec.to_dict()
    bad["detector"]["bogus"] = 1
    with pytest.raises(ValueError, match="bogus"):
        ModelSpec.from_dict(bad)
    with pytest.raises(ValueError, match="num_tokens"):
        ModelSpec(name="y", recognizer=RecognizerConfig(num_tokens=7), charset=Charset(("a",)))


def test_document_views():
    q = ((0.0, 0.0), (10.0, 0.0), (10.0, 5.0), (0.0, 5.0))
    w1 = Word("hello", q, 0.9, 0.95, 0.85)
    w2 = Word("world", q, 0.8, 0.9, 0.7, order=1)
    line = Line((w1, w2), bounding_quad([q]), 0.85)
    para = Paragraph((line, line), bounding_quad([q]), 0.85)
    page = Page(100, 50, (para, para))
    doc = Document((page,), source="x.png")
    assert doc.text() == "hello world\nhello world\n\nhello world\nhello world"
    d = doc.to_dict()
    assert d["pages"][0]["paragraphs"][0]["lines"][0]["words"][1]["text"] == "world"
    assert json.loads(json.dumps(d)) == d


def test_line_text_has_no_space_between_cjk_runs():
    # A Chinese line read as two runs (cut by the detector or at 40 characters) is one text; spaces stay around
    # Latin words, between Korean words (written with spaces) and between CJK and digits or Latin letters.
    assert join_words(["使用", "Python", "进行", "开发。"]) == "使用 Python 进行开发。"
    assert join_words(["日本語の", "「テキスト」"]) == "日本語の「テキスト」"
    assert join_words(["안녕", "하세요"]) == "안녕 하세요"
    assert join_words(["第", "3", "章"]) == "第 3 章"
    assert join_words(["", "a", "", "b"]) == "a b"
    q = ((0.0, 0.0), (10.0, 0.0), (10.0, 5.0), (0.0, 5.0))
    line = Line((Word("你好", q, 0.9, 0.9, 0.9), Word("世界", q, 0.9, 0.9, 0.9, order=1)), q, 0.9)
    assert line.text == "你好世界"


def test_manifest_roundtrip_and_validation(tmp_path):
    page = PageAnnotation.from_dict(
        {
            "id": "p0",
            "image": "p0.png",
            "width": 100,
            "height": 100,
            "words": [{"text": "a", "quad": [[0, 0], [1, 0], [1, 1], [0, 1]]}] * 2,
            "lines": [{"words": [1, 0]}],
            "paragraphs": [{"lines": [0]}],
        }
    )
    write_manifest(tmp_path, [page])
    (back,) = list(read_manifest(tmp_path))
    assert back.to_dict() == page.to_dict()
    assert back.reading_order_words() == [1, 0]
    bad = page.to_dict()
    bad["lines"] = [{"words": [5]}]
    with pytest.raises(ValueError, match="word 5"):
        PageAnnotation.from_dict(bad)


def test_extend_quads_lengthens_along_the_text_direction_only():
    straight = torch.tensor([[[10.0, 20.0], [50.0, 20.0], [50.0, 30.0], [10.0, 30.0]]])
    out = extend_quads(straight, 0.5)  # height 10: 5 px more at each end
    assert torch.allclose(out, torch.tensor([[[5.0, 20.0], [55.0, 20.0], [55.0, 30.0], [5.0, 30.0]]]))
    assert extend_quads(straight, 0.0) is straight
    # A quad turned by 90° grows along its own text direction (down the page), keeping its height.
    turned = torch.tensor([[[30.0, 10.0], [30.0, 50.0], [20.0, 50.0], [20.0, 10.0]]])
    grown = extend_quads(turned, 0.5)
    assert torch.allclose(grown[0, :, 0], turned[0, :, 0])
    assert torch.allclose(grown[0, :, 1], torch.tensor([5.0, 55.0, 55.0, 5.0]))
    assert torch.allclose(quad_height(grown), quad_height(turned))
    degenerate = torch.zeros(1, 4, 2)
    assert torch.equal(extend_quads(degenerate, 0.3), degenerate)
    per_quad = extend_quads(torch.cat([straight, straight]), torch.tensor([0.0, 0.5]))
    assert torch.equal(per_quad[0], straight[0]) and torch.allclose(per_quad[1], out[0])
