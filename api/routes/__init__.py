"""One module per resource; `api.app` includes their routers."""
