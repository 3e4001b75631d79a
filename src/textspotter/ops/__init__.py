"""Pure-PyTorch replacements of the reference ``nemotron_ocr_cpp`` operations (spec §1.3).

Every op works on CPU and on any device torch supports, without a compiled extension. See ``docs/ops.md`` for
where each op follows the CUDA or the CPU reference behaviour.
"""

from .boxes import PREFILTER_SUPPRESSED_LOGIT, prefilter_confidence, rrect_to_quads
from .charlm import CharLM, CharLMOptions, load_char_lm, rescore_cjk
from .dashes import join_dash_runs, math_minus
from .decode import MIN_PROBABILITY, decode_greedy, f_measure
from .distances import point_segment_distance, quad_distances, ragged_quad_distances
from .gaps import fill_map_gaps, merge_line_overlaps
from .graph import RELATION_THRESHOLD, dense_relations_to_graph, group_relations
from .lexicon import (
    LEXICON_LANGUAGES,
    Lexicon,
    LexiconOptions,
    load_lexicon,
    rescore_candidates,
    rescore_pages,
    rescore_with_lexicon,
)
from .nms import drop_duplicate_regions, quad_nms, refine_quad_ends, refine_quads
from .rectify import (
    calc_quad_width,
    indirect_grid_sample,
    quad_rectify_grid,
    rectify_sample,
    region_counts_to_indices,
)

__all__ = [
    "CharLM",
    "CharLMOptions",
    "LEXICON_LANGUAGES",
    "Lexicon",
    "LexiconOptions",
    "MIN_PROBABILITY",
    "PREFILTER_SUPPRESSED_LOGIT",
    "RELATION_THRESHOLD",
    "calc_quad_width",
    "decode_greedy",
    "dense_relations_to_graph",
    "f_measure",
    "fill_map_gaps",
    "group_relations",
    "indirect_grid_sample",
    "join_dash_runs",
    "load_char_lm",
    "load_lexicon",
    "math_minus",
    "merge_line_overlaps",
    "point_segment_distance",
    "prefilter_confidence",
    "quad_distances",
    "quad_nms",
    "quad_rectify_grid",
    "rectify_sample",
    "ragged_quad_distances",
    "refine_quad_ends",
    "drop_duplicate_regions",
    "refine_quads",
    "region_counts_to_indices",
    "rescore_with_lexicon",
    "rescore_candidates",
    "rescore_cjk",
    "rescore_pages",
    "rrect_to_quads",
]
