"""Config of each student's single-user server (the hub points JUPYTER_CONFIG_PATH here).

The explorer as a Voilà app: sources stripped, tracebacks hidden, the apps' page template
``mtjexplore`` (Voilà's lab page without CDN links and with a loading message that does not
animate; the hub's ``JUPYTER_PATH`` points at ``mtjexplore/serve/share/jupyter``); kernels of
closed pages culled after 10 minutes.

Voilà as a server extension takes MathJax's address from the server's tornado settings and, when
there is none, loads MathJax 2 from cdnjs. With both set to None the page typesets maths with the
MathJax 3 in Voilà's own bundle, as the standalone ``mtjexplore app`` does: no CDN request.
"""

c = get_config()  # noqa: F821 (Jupyter provides get_config)
c.ServerApp.tornado_settings = {"mathjax_url": None, "mathjax_config": None}
c.VoilaConfiguration.template = "mtjexplore"
c.VoilaConfiguration.strip_sources = True
c.VoilaConfiguration.show_tracebacks = False
c.MappingKernelManager.cull_idle_timeout = 600
c.MappingKernelManager.cull_interval = 60
