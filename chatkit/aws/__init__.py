"""AWS Lambda faces of chatkit: thin handlers over :class:`chatkit.session.ChatSession`.

``chatkit.aws.handlers`` holds the Lambda entry points (``ws_connect``, ``ws_disconnect``,
``ws_default``, ``http_history``, ``http_login``); nothing here imports Jupyter.
"""
