"""Run plumbing that knows nothing of GLIM: atomic file writes (``atomic``), checkpoint files and
Lightning's checkpoint IO (``checkpoint_io``), exact resumption (``resume``) and experiment
loggers (``loggers``). Imports no other package of the project.
"""
