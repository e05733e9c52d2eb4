"""The worker: priorlab's diagnostics during a job land in that job's log.txt."""

import io
import logging

from priorlab.experiments.worker import _diagnostics_to


def test_diagnostics_during_a_job_go_to_its_log():
    stream = io.StringIO()
    package = logging.getLogger("priorlab")
    before = (package.level, list(package.handlers))
    with _diagnostics_to(stream):
        logging.getLogger("priorlab.run").info("kept nothing in %s", "evals/")
        logging.getLogger("priorlab.run").debug("below the job's level")
    logging.getLogger("priorlab.run").warning("after the job: not in its log")
    assert stream.getvalue() == "INFO priorlab.run: kept nothing in evals/\n"
    assert (package.level, package.handlers) == before
