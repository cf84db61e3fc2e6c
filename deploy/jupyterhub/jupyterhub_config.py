"""JupyterHub for a class: every student's own server opens straight into the mtjexplore explorer.

Run from any folder (the hub's database and cookie secret are written there)::

    export MTJ_HUB_PASSWORD='a-class-password'  MTJ_HUB_STUDENTS='ada,grace,alan'
    jupyterhub -f /path/to/deploy/jupyterhub/jupyterhub_config.py

Environment (all optional but the two above):

``MTJ_HUB_IP`` / ``MTJ_HUB_PORT``
    Where students connect (default 127.0.0.1:8000; put TLS in front, or set
    ``c.JupyterHub.ssl_key``/``ssl_cert``).
``MTJ_HUB_API_PORT`` / ``MTJ_HUB_PROXY_API_PORT``
    Internal ports of the hub and the proxy on 127.0.0.1 (default 8081 / 8001).
``MTJ_HUB_CHP``
    The ``configurable-http-proxy`` executable (default: ``node_modules/.bin`` next to this
    file, after ``npm install`` there, else the one on PATH).
``MTJ_HUB_IDLE_TIMEOUT``
    Seconds of inactivity after which a student's server is stopped (default 1800).
``MTJ_HUB_SHARED_DIR``
    Where every student's kernels keep the one training queue and the one memory-mapped MNIST
    cache of the machine (default ``<tmp>/mtjexplore-shared``). Its ``cpu-queue`` and
    ``data-cache`` folders are made mode 1777 here, so students who are different OS users share
    them; it must be the same folder for every student (not a per-student private /tmp).
``MTJ_HUB_MEM_LIMIT``
    Memory per student (default ``1G``: a kernel after a training run ~0.5 GiB RSS plus the
    single-user server ~0.16 GiB). Enforced by spawners that can (systemdspawner, kubespawner);
    the local-process spawner used here only passes it on as ``MEM_LIMIT``.

The authenticator (one shared password, listed students only) and the spawner (every student a
process of the hub's own OS user) suit a workshop or a test. For a real class use your
institution's login (an OAuthenticator, LDAP) and a spawner that isolates students (systemdspawner
with one OS user each, or Kubernetes: docs/teaching.md).
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

from mtjexplore.serve.appserver import APPS_DIR, TEMPLATE_ROOT, kernel_env

HERE = Path(__file__).resolve().parent
c = get_config()  # noqa: F821 (JupyterHub provides get_config)

# ---------------------------------------------------------------- where the hub listens
c.JupyterHub.ip = os.environ.get("MTJ_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("MTJ_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("MTJ_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('MTJ_HUB_PROXY_API_PORT', '8001')}"
_local_chp = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
c.ConfigurableHTTPProxy.command = [os.environ.get("MTJ_HUB_CHP") or
                                   (str(_local_chp) if _local_chp.is_file() else
                                    shutil.which("configurable-http-proxy") or "configurable-http-proxy")]

# ---------------------------------------------------------------- who may log in
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ["MTJ_HUB_PASSWORD"]
c.Authenticator.allowed_users = {name.strip() for name in os.environ["MTJ_HUB_STUDENTS"].split(",")
                                 if name.strip()}

# ---------------------------------------------------------------- shared by every student
# One training queue (one run per core but one, across all students) and one MNIST cache for the machine,
# also when each student is their own OS user: the folders are mode 1777 (anyone adds files, only
# a file's owner replaces it) and mtjexplore writes its files there with mode 0644, whatever the
# students' umask (mtjexplore._shared_files).
SHARED = Path(os.environ.get("MTJ_HUB_SHARED_DIR") or Path(tempfile.gettempdir()) / "mtjexplore-shared")
QUEUE_DIR, CACHE_DIR = SHARED / "cpu-queue", SHARED / "data-cache"
for _folder in (SHARED, QUEUE_DIR, CACHE_DIR):
    _folder.mkdir(exist_ok=True)
    if _folder.stat().st_uid == os.geteuid():
        _folder.chmod(0o1777)

# ---------------------------------------------------------------- each student's server
c.JupyterHub.spawner_class = "simple"
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.notebook_dir = str(APPS_DIR)          # the packaged apps, served by Voilà
c.Spawner.default_url = "/voila/render/explorer.ipynb"
c.Spawner.mem_limit = os.environ.get("MTJ_HUB_MEM_LIMIT", "1G")
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {"JUPYTER_PATH": str(TEMPLATE_ROOT),                      # page template
                         "JUPYTER_CONFIG_PATH": str(HERE / "etc" / "jupyter"),  # server config
                         # as `mtjexplore app` gives its kernels: 2 malloc arenas, 1 OMP thread, the
                         # shared memory-mapped MNIST cache, and one machine-wide training queue
                         **kernel_env(cache_dir=CACHE_DIR),
                         "MTJEXPLORE_QUEUE_DIR": str(QUEUE_DIR)}
# etc/jupyter/jupyter_server_config.py: Voilà's page template, stripped sources, kernel culling
c.Spawner.args = []
if os.geteuid() == 0:  # a container's root: the single-user server refuses root unless told
    c.Spawner.args.append("--ServerApp.allow_root=True")

# ---------------------------------------------------------------- idle culling
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                f"--timeout={os.environ.get('MTJ_HUB_IDLE_TIMEOUT', '1800')}"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
