"""Config of each student's single-user server (the hub points JUPYTER_CONFIG_PATH here).

Voilà as a server extension takes MathJax's address from the server's tornado settings and, when
there is none, loads MathJax 2 from cdnjs. With both set to None the page typesets maths with the
MathJax 3 in Voilà's own bundle, as the standalone ``mtjexplore app`` does: no CDN request.
"""

c = get_config()  # noqa: F821 (Jupyter provides get_config)
c.ServerApp.tornado_settings = {"mathjax_url": None, "mathjax_config": None}
