"""A stand-in AWS account for deploy rehearsals: moto's server on loopback, spoken to by
the same boto3 code that deploys to AWS (CloudFormation, S3, DynamoDB, Lambda, IAM, Logs,
STS), and the Bedrock emulator for ``bedrock-runtime`` (the deployer's first model call).

    with MotoAws() as fake:
        deploy(fake.aws(), StackConfig("rehearsal"), build_bundle())

What it cannot do — say so wherever it is used: moto's CloudFormation **skips**
``AWS::ApiGatewayV2::*``, CloudFront, Secrets Manager and S3 bucket policies (so the stack
has no outputs), and moto cannot **run** Lambda code. The zip-in-local-gateway test covers
those parts (``chatkit.deploy.zip_invoker``).

moto does not replace an ``AWS::Lambda::Version`` whose properties changed; here it does
(publishes again), as CloudFormation does. moto does not refuse to publish a version of an
unchanged function as Lambda does ("A version for this Lambda function exists" rolls the
stack back): it hands back the last version. Rehearsals check that every replaced version
is a new one.

moto answers ``Ref`` of an ``AWS::Lambda::Version`` with an object instead of the
version's ARN, which breaks ``AWS::Lambda::Permission``; :func:`_fix_version_ref`
gives it CloudFormation's documented value (the version ARN). :func:`_fix_conditional_updates`
keeps moto from updating resources whose condition is false.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from ..local.bedrock_emulator import BedrockEmulator
from ..local.dynamodb import LocalDynamoDB
from .aws import DEFAULT_REGION, Aws

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

    def replace(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict,
        account_id: str,
        region_name: str,
    ) -> Any:
        # a changed Description replaces the version (CloudFormation publishes a new one)
        return create_with_arn(cls, new_resource_name, cloudformation_json, account_id, region_name)

    version.create_from_cloudformation_json = classmethod(create_with_arn)
    version.update_from_cloudformation_json = classmethod(replace)
    version.physical_resource_id = property(lambda self: self.arn)
    version._chatkit_fixed = True


def _fix_conditional_updates() -> None:
    """moto updates a resource whose ``Condition`` is false (so never created) when a
    parameter it refers to changes, and fails on its references ("Fn::GetAtt references
    undefined resource"); CloudFormation leaves such a resource alone, and so does this.
    moto sees a changed parameter only through ``Ref``; here ``${Name}`` in ``Fn::Sub``
    counts too (a version's ``Description: !Sub "… ${ReleaseId}"``)."""
    import re

    from moto.cloudformation import parsing

    update = parsing.parse_and_update_resource
    if getattr(update, "_chatkit_fixed", False):
        return
    references = parsing.get_references_from_template

    def with_sub(template: Any) -> list[str]:
        found = references(template)
        if isinstance(template, dict) and isinstance(template.get("Fn::Sub"), str):
            found += re.findall(r"\$\{([A-Za-z0-9]+)\}", template["Fn::Sub"])
        elif isinstance(template, (dict, list)):
            for item in template.values() if isinstance(template, dict) else template:
                found += [n for n in with_sub(item) if n not in found]
        return found

    parsing.get_references_from_template = with_sub

    def update_if_created(logical_id: str, resource_json: dict, resources: Any, **kw: Any):
        condition = resource_json.get("Condition")
        if condition and not resources.lazy_condition_map[condition]:
            return None
        return update(logical_id, resource_json, resources, **kw)

    update_if_created._chatkit_fixed = True  # type: ignore[attr-defined]
    parsing.parse_and_update_resource = update_if_created


#: The account's Lambda concurrency the stand-in reports (AWS's default quota is 1,000;
#: new accounts often start with 10): ``MOTO_LAMBDA_CONCURRENCY_QUOTA``, as moto reads it.
_QUOTA_VARIABLE = "MOTO_LAMBDA_CONCURRENCY_QUOTA"


def _add_account_settings() -> None:
    """Lambda ``GetAccountSettings``, which moto lacks: the account's concurrency and what
    is left unreserved after the functions' reservations (``chatkit deploy`` reads it)."""
    import json
    import os
    import re

    from moto.awslambda import urls
    from moto.awslambda.models import lambda_backends

    path = r"{0}/(?P<api_version>[^/]+)/account-settings/?$"
    if path in urls.url_paths:
        return

    def account_settings(request: Any, full_url: str, headers: Any) -> Any:
        scope = re.search(r"Credential=[^/]+/\d+/([^/]+)/", headers.get("Authorization", ""))
        region = scope.group(1) if scope else "us-east-1"
        quota = int(os.environ.get(_QUOTA_VARIABLE) or 1000)
        reserved = sum(
            int(function.reserved_concurrency or 0)
            for backend in (lambda_backends[account][region] for account in lambda_backends)
            for function in backend.list_functions()
        )
        limit = {"ConcurrentExecutions": quota, "UnreservedConcurrentExecutions": quota - reserved}
        return 200, {}, json.dumps({"AccountLimit": limit, "AccountUsage": {}})

    urls.url_paths[path] = account_settings


class MotoAws(LocalDynamoDB):
    """moto's threaded server on ``127.0.0.1`` (port 0 = a free one) serving every service
    moto has; state in memory, shared with any other moto server in this process. The
    Bedrock emulator (``bedrock``, instant answers) stands in for ``bedrock-runtime``."""

    bedrock: BedrockEmulator | None = None

    def start(self) -> MotoAws:
        import warnings

        _fix_version_ref()
        _fix_conditional_updates()
        _add_account_settings()
        logging.getLogger("moto").setLevel(logging.ERROR)  # "No Moto CloudFormation support…"
        # moto warns once per resource type it skips; the module docstring says which.
        warnings.filterwarnings("ignore", message="Tried to parse AWS::", module="moto")
        self.bedrock = BedrockEmulator(default_rate=0).start()
        return super().start()

    def stop(self) -> None:
        super().stop()
        if self.bedrock is not None:
            self.bedrock.stop()
            self.bedrock = None

    def aws(self, region: str = DEFAULT_REGION) -> Aws:
        """Clients for this stand-in account in ``region``."""
        assert self.bedrock is not None, "start() first"
        return Aws(
            region,
            endpoint_url=self.url,
            credentials=_CREDENTIALS,
            endpoints={"bedrock-runtime": self.bedrock.url},
        )

    @contextlib.contextmanager
    def slow_change_sets(self) -> Iterator[None]:
        """Change sets created meanwhile stay ``CREATE_IN_PROGRESS`` (moto readies them at
        once; CloudFormation can take long, or hang) — for rehearsing the deploy's deadline."""
        from moto.cloudformation.models import CloudFormationBackend

        create = CloudFormationBackend.create_change_set

        def create_pending(backend: Any, *args: Any, **kwargs: Any) -> Any:
            change_set_id, stack_id = create(backend, *args, **kwargs)
            backend.change_sets[change_set_id].status = "CREATE_IN_PROGRESS"
            return change_set_id, stack_id

        CloudFormationBackend.create_change_set = create_pending  # type: ignore[method-assign]
        try:
            yield
        finally:
            CloudFormationBackend.create_change_set = create  # type: ignore[method-assign]

    def set_stack_status(self, stack_id: str, status: str) -> None:
        """Put a stack in a state real AWS leaves after a failure (``ROLLBACK_COMPLETE``,
        ``DELETE_FAILED``…): moto never fails or rolls back, so rehearsals of
        resuming need this."""
        from moto.cloudformation.models import cloudformation_backends

        _, _, _, region, account, _ = stack_id.split(":", 5)
        cloudformation_backends[account][region].stacks[stack_id].status = status
