from __future__ import annotations

from aws_cdk.assertions import Match

from tests.template.conftest import Synth


def test_vpc_has_two_isolated_subnets_and_no_route_to_the_internet(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::EC2::NatGateway", 0)
    synth.template.resource_count_is("AWS::EC2::InternetGateway", 0)
    synth.template.resource_count_is("AWS::EC2::EIP", 0)
    subnets = synth.resources("AWS::EC2::Subnet")
    assert len(subnets) == 2
    for subnet in subnets.values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
        tags = {t["Key"]: t["Value"] for t in subnet["Properties"]["Tags"]}
        assert tags["aws-cdk:subnet-type"] == "Isolated"
    for route in synth.resources("AWS::EC2::Route").values():
        assert "GatewayId" not in route["Properties"] and "NatGatewayId" not in route["Properties"]


def test_dynamodb_is_reached_through_a_gateway_endpoint(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "VpcEndpointType": "Gateway",
            "ServiceName": Match.object_like({"Fn::Join": Match.array_with([Match.array_with([".dynamodb"])])}),
        },
    )


def test_vpc_flow_logs_go_to_cloudwatch(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::EC2::FlowLog", {"ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"}
    )


def test_no_security_group_admits_the_world(synth: Synth) -> None:
    rules: list[dict[str, object]] = []
    for sg in synth.resources("AWS::EC2::SecurityGroup").values():
        rules += sg["Properties"].get("SecurityGroupIngress", [])
    rules += [r["Properties"] for r in synth.resources("AWS::EC2::SecurityGroupIngress").values()]
    for rule in rules:
        assert rule.get("CidrIp") != "0.0.0.0/0" and rule.get("CidrIpv6") != "::/0", rule


def test_neptune_accepts_8182_only_from_the_lambda_security_group(synth: Synth) -> None:
    ingress = list(synth.resources("AWS::EC2::SecurityGroupIngress").values())
    neptune_sg = next(k for k in synth.resources("AWS::EC2::SecurityGroup") if k.startswith("GraphSecurityGroup"))
    lambda_sg = next(k for k in synth.resources("AWS::EC2::SecurityGroup") if k.startswith("NetworkLambdaSecurityGroup"))
    to_neptune = [r["Properties"] for r in ingress if r["Properties"]["GroupId"] == {"Fn::GetAtt": [neptune_sg, "GroupId"]}]
    assert to_neptune == [
        {
            "Description": "neptune-stream Lambdas",
            "FromPort": 8182,
            "GroupId": {"Fn::GetAtt": [neptune_sg, "GroupId"]},
            "IpProtocol": "tcp",
            "SourceSecurityGroupId": {"Fn::GetAtt": [lambda_sg, "GroupId"]},
            "ToPort": 8182,
        }
    ]
    # Neptune's group has no inline rules besides these.
    assert "SecurityGroupIngress" not in synth.json["Resources"][neptune_sg]["Properties"]
