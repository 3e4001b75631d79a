"""textspotter.scale: OCR a corpus of millions of pages on Ray Data (``textspotter batch``, docs/batch.md).

* :class:`BatchJob` describes a run (``job.py``); :func:`run_batch` executes it (``batch.py``);
* ``inputs.py`` lists the input files (folders, globs, list files; local paths or fsspec URLs);
* ``results.py`` defines the output rows, writes part files, and reads them back (:func:`read_results`, and the
  resume index :func:`load_index`);
* ``workers.py`` holds the stages' work (page rendering, the OCR actor); ``sink.py`` the Ray Data datasink.

Ray, pyarrow and fsspec (the ``[scale]`` extra) are imported only when a function needs them.
"""

from .batch import BatchSummary, run_batch
from .inputs import expand_inputs
from .job import OUTPUT_FORMATS, BatchJob
from .results import ResumeIndex, load_index, output_schema, read_results

__all__ = [
    "BatchJob",
    "BatchSummary",
    "run_batch",
    "expand_inputs",
    "load_index",
    "read_results",
    "ResumeIndex",
    "output_schema",
    "OUTPUT_FORMATS",
]
