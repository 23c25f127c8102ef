pytest_plugins = ["reconciler.sandbox.pytest_plugin"]
