"""A stand-in AWS account for deploy rehearsals: moto's server on loopback, spoken to by
the same boto3 code that deploys to AWS (CloudFormation, S3, DynamoDB, Lambda, IAM, Logs,
STS).

    with MotoAws() as fake:
        deploy(fake.aws(), StackConfig("rehearsal"), build_bundle())

What it cannot do — say so wherever it is used: moto's CloudFormation **skips**
``AWS::ApiGatewayV2::*``, CloudFront, Secrets Manager and S3 bucket policies (so the stack
has no outputs), and moto cannot **run** Lambda code. The zip-in-local-gateway test covers
those parts (``chatkit.local.zip_invoker``).

moto answers ``Ref`` of an ``AWS::Lambda::Version`` with an object instead of the
version's ARN, which breaks ``AWS::Lambda::Permission``; :func:`_fix_version_ref`
gives it CloudFormation's documented value (the version ARN).
"""

from __future__ import annotations

import logging
from typing import Any

from chatkit.deploy.aws import Aws

from .dynamodb import LocalDynamoDB

__all__ = ["MotoAws"]

_CREDENTIALS = {"aws_access_key_id": "rehearsal", "aws_secret_access_key": "rehearsal"}


def _fix_version_ref() -> None:
    from moto.awslambda import models

    version = models.LambdaVersion
    if getattr(version, "_chatkit_fixed", False):
        return
    create = version.create_from_cloudformation_json.__func__

    def create_with_arn(cls: Any, name: str, template: dict, account: str, region: str, **kw):
        made = create(cls, name, template, account, region, **kw)
        function = models.lambda_backends[account][region].get_function(
            template["Properties"]["FunctionName"]
        )
        made.arn = f"{function.function_arn}:{made.version}"
        return made

    version.create_from_cloudformation_json = classmethod(create_with_arn)
    version.physical_resource_id = property(lambda self: self.arn)
    version._chatkit_fixed = True


class MotoAws(LocalDynamoDB):
    """moto's threaded server on ``127.0.0.1`` (port 0 = a free one) serving every service
    moto has; state in memory, shared with any other moto server in this process."""

    def start(self) -> MotoAws:
        import warnings

        _fix_version_ref()
        logging.getLogger("moto").setLevel(logging.ERROR)  # "No Moto CloudFormation support…"
        # moto warns once per resource type it skips; the module docstring says which.
        warnings.filterwarnings("ignore", message="Tried to parse AWS::", module="moto")
        return super().start()

    def aws(self, region: str = "ap-northeast-2") -> Aws:
        """Clients for this stand-in account in ``region``."""
        return Aws(region, endpoint_url=self.url, credentials=_CREDENTIALS)

    def set_stack_status(self, stack_id: str, status: str) -> None:
        """Put a stack in a state real AWS leaves after a failure (``ROLLBACK_COMPLETE``,
        ``DELETE_FAILED``…): moto never fails or rolls back, so rehearsals of
        resuming need this."""
        from moto.cloudformation.models import cloudformation_backends

        _, _, _, region, account, _ = stack_id.split(":", 5)
        cloudformation_backends[account][region].stacks[stack_id].status = status
