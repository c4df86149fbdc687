collect_ignore_glob = ["*.ipynb"]  # run strict and twice by tests/teach/test_solution_notebooks.py
