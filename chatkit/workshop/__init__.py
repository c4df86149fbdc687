"""Instructor tools (``chatkit workshop check|run|clean``): run the workshop notebooks for a
whole class with papermill, report who got stuck where, and clean up afterwards.

Modules: :mod:`~.roster` (the CSV roster), :mod:`~.notebooks` (finding ``NN_name.ipynb``),
:mod:`~.runner` (the worker pool), :mod:`~.kernel` (the cell an offline run inserts),
:mod:`~.results` and :mod:`~.report` (what a run leaves), :mod:`~.clean`, :mod:`~.cli`;
:mod:`~.notebook` is the notebooks' own one-call mode setup (and the attendee's tables).
"""
