# Front door. The README's two commands are the contract: `make course` and `make test`.
.PHONY: course setup test quick site clean-course

course:            ## set up everything, build and serve the site, start JupyterLab
	bash scripts/course

setup:             ## engine, Compose, Python environment, images (idempotent)
	bash scripts/setup --with-browser

test: setup        ## the whole test suite against the real engine
	.venv/bin/python -m pytest -q

quick:             ## the fast subset for the edit-test loop (no builds, notebooks or browser)
	.venv/bin/python -m pytest -q -m "not slow and not book"

site:              ## build the site only
	.venv/bin/jupyter-book build . -W --keep-going
