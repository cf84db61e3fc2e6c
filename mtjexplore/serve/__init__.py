"""The server side of ``mtjexplore app``: Voilà with what serving a class needs.

``python -m mtjexplore.serve ROOT --Voila.port=N ...`` runs
:class:`~mtjexplore.widgets.voila_server.ClassroomVoila`, a Voilà application (in
:mod:`mtjexplore.widgets`, the one place that imports widget and Voilà libraries) with, on top of
Voilà 0.5:

* a Host allow-list (DNS rebinding) and an Origin check for websockets (:mod:`.guard`);
* a cap on the kernels that serve visitors: past it a page says "the server is full" (HTTP 503);
* a pool of pre-heated kernels refilled one kernel at a time, once the visitors' pages have
  loaded and no page has been requested for a while (:mod:`.refill`), not during a burst;
* the ``_xsrf`` cookie set on every app page, so the page's shutdown request on close succeeds
  and no kernel is left behind;
* the served notebooks signed at start in a private, in-memory signature store (no "Notebook ...
  is not trusted" on every page load) and kernels launched with CurveZMQ transport encryption
  where pyzmq supports it (no "Kernel is running over TCP without encryption" per kernel);
* a page that loads nothing from a CDN: Font Awesome comes from Voilà's own bundle, not
  jsdelivr, and the mermaid loader (cdnjs) is left out; maths is typeset by the MathJax 3 in
  Voilà's bundle (a browser test checks that no request leaves the server);
* a loading message that changes once a second instead of Voilà's spinner, whose animations
  made the browser redraw the page at every frame while it loaded. The page template is
  ``share/jupyter/voila/templates/mtjexplore`` in this package (:data:`.appserver.TEMPLATE_ROOT`),
  also used by the JupyterHub set-up.

:mod:`mtjexplore.serve.appserver` builds the command and :mod:`.cpu_queue` shares the CPU between
training runs; neither imports Voilà, which only the child process loads.
"""
