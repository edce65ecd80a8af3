"""Finding the failed step in buildx output (polyarch.adapters.docker.buildlog)."""

from __future__ import annotations


BAKE_FAILURE = """\
#15 [api linux/arm64 3/3] RUN echo failing && exit 4
#15 ...

#16 [api linux/amd64 3/3] RUN echo failing && exit 4
#16 1.097 failing
#16 ERROR: process "/bin/sh -c echo failing && exit 4" did not complete successfully: exit code: 4
------
 > [api linux/amd64 3/3] RUN echo failing && exit 4:
1.097 failing
------
Dockerfile:3
--------------------
   3 | >>> RUN echo failing && exit 4
--------------------
ERROR: failed to solve: process "/bin/sh -c echo failing && exit 4" did not complete successfully: exit code: 4
"""


def test_the_failed_step_is_found_in_buildx_output():
    from polyarch.adapters.docker.buildlog import failed_step

    step = failed_step(BAKE_FAILURE, ("web", "api"))
    assert (step.target, step.platform, step.instruction, step.line) == ("api", "linux/amd64", "RUN echo failing && exit 4", 3)
    assert step.outcome() == "exited with code 4"
    assert failed_step("#3 DONE 0.1s\n", ("web",)) is None
