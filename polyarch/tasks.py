"""The import path projects' own tasks.py files used before the package had layers.

`from polyarch.tasks import namespace` and `from polyarch.tasks.release import
deploy_build` keep working: these names are the command-line layer's task
package (polyarch.cli.tasks) and its modules under their old names, the same
module objects. New code imports polyarch.cli.tasks.
"""

import sys

from polyarch.cli import tasks as _tasks

for _name, _module in list(sys.modules.items()):
    if _name.startswith("polyarch.cli.tasks."):
        sys.modules["polyarch.tasks." + _name.rsplit(".", 1)[1]] = _module
sys.modules[__name__] = _tasks
