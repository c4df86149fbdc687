"""Deploying chatkit to AWS with Python only (no CDK, Node or Docker):

- :mod:`.package` — the reproducible Lambda zip (``chatkit package``);
- :mod:`.stack` — create/update the CloudFormation stack through a change set and delete it
  (``chatkit deploy`` / ``chatkit destroy``), with :mod:`.buckets` and :mod:`.progress`;
- :mod:`.model_check` — the deployer's first model call, before any stack call;
- :mod:`.smoke` — stream one Korean answer through a running backend (``chatkit smoke``);
- :mod:`.template` — ``infra/template.yaml`` as data, cfn-lint;
- :mod:`.runtime` — Python 3.12 (the Lambda runtime) on this machine: cold-import timing.

Example::

    from chatkit.deploy.aws import Aws
    from chatkit.deploy.package import build_bundle
    from chatkit.deploy.stack import StackConfig, deploy, destroy

    aws = Aws("ap-northeast-2")
    deploy(aws, StackConfig("chatkit"), build_bundle())
    destroy(aws, "chatkit")

Nothing here is imported by the Lambda functions (the zip leaves this package out).
"""
