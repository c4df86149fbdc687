collect_ignore_glob = ["*.ipynb"]  # run strict and twice by tests/notebooks/test_solution_notebooks.py
