"""The builder room's front end: Dockerfiles to a typed, expanded :class:`BuildPlan`.

``parse_dockerfile(text, filename=, build_args=, target=)`` is the entry point the
executor and the CLI call. Names load lazily (PEP 562) so importing the package
costs nothing; ``tests/unit/build/test_public_api.py`` pins the list.

For the executor (a later room), the contract is:

* ``plan.levels()`` gives waves of stage indices; stages in one wave are
  independent and may run in parallel. Only ``plan.needed`` stages are listed.
* a :class:`Stage` starts from ``base_stage`` (an earlier stage's result) or the
  image ``base`` (``scratch`` = nothing); ``platform`` is its ``--platform``.
  Pass ``base_env=`` to ``parse_dockerfile`` (the base images' ENV) so words
  expand against the image's ENV as docker does; docker's default PATH is added
  when a base has none.
* each :class:`Step` holds an *expanded* instruction (``instructions.py``) and the
  ARG values in scope (``step.args``): the RUN environment is the image ENV plus
  these (ENV wins), and they belong in the cache key.
* ``config.apply(state, instruction)`` folds the image-config fields; its parity
  with docker is checked by ``tests/interop/build/test_config_parity.py``.
* RUN keeps shell form (``Command.shell``; run through the current SHELL) and its
  heredocs unexpanded; COPY/ADD heredoc bodies are already expanded.
  ``Copy.from_stage`` is set when ``--from`` names a stage, otherwise ``from_`` is
  an image. Context paths go through ``BuildContext.resolve``, never ``os.path``.
* a base image's ``OnBuild`` list: pass ``base_onbuild=`` and the triggers become
  the stage's first steps (``Step.trigger``), expanded like the rest; an earlier
  stage's ONBUILD runs the same way in stages built on it. Everything else the
  base config holds is the executor's starting ``ImageConfigState``
  (``config.start_stage`` clears inherited triggers and adds docker's PATH).

The executor (``executor.py``) is the back end: ``Builder(images, exec_root,
emit).build(BuildContext, BuildOptions) -> BuildResult``. Its rooms:

* ``executor.py`` -- stages in waves (parallel threads), metadata steps, the
  snapshot/layer/intermediate-image plumbing, the final image and its tags;
* ``steps.py`` -- RUN, COPY/ADD and WORKDIR: cache keys from content digests,
  then the change on an active overlay snapshot;
* ``runner.py`` -- a RUN's bundle and ``dockyard-runtime run``; ``copier.py`` --
  docker's COPY rules; ``rootfs.py`` -- in-scope symlinks and users;
* ``cache.py`` -- the SQLite cache (``<data_root>/build/cache.db``) and remembered
  file digests; ``state.py`` -- the state between steps and its config JSON;
* ``progress.py`` -- plain/tty rendering; ``exporters.py`` -- ``--output``.

``api/build.py`` serves ``POST /build`` with the same executor; ``dockyard build``
(``cli/commands/build.py``) runs it in the CLI's process.
"""

from __future__ import annotations

from dockyard._lazy import lazy_exports

_EXPORTS = {
    "parse_dockerfile": "dockyard.build.stages",
    "BuildPlan": "dockyard.build.stages",
    "Stage": "dockyard.build.stages",
    "Step": "dockyard.build.stages",
    "DockerfileError": "dockyard.build.errors",
    "DockerIgnore": "dockyard.build.dockerignore",
    "read_dockerignore": "dockyard.build.dockerignore",
    "walk_context": "dockyard.build.dockerignore",
    "BuildContext": "dockyard.build.context",
    "instructions": "dockyard.build.instructions",
    "Builder": "dockyard.build.executor",
    "BuildOptions": "dockyard.build.executor",
    "BuildResult": "dockyard.build.executor",
    "StepFailed": "dockyard.build.errors",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
