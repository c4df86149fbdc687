"""The error of deploying and deleting stacks: its message says why and what to do.

>>> raise DeployError("배포 실패 (deployment failed): …")
Traceback (most recent call last):
chatkit.deploy.errors.DeployError: 배포 실패 (deployment failed): …
"""

from __future__ import annotations

__all__ = ["DeployError"]


class DeployError(RuntimeError):
    """A deployment or deletion that did not finish; the message says why and what to do."""
