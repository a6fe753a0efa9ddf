"""The three DynamoDB tables. The local run creates exactly these (keys, attribute types, GSIs), read back
from the synthesized template; attribute names come from neptune_capture.schema, as the handler's do."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as ddb
from constructs import Construct

from neptune_capture import schema
from neptune_stream.defaults import Defaults


class Tables(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, defaults: Defaults) -> None:
        super().__init__(scope, construct_id)

        def table(name: str, pk: str, pk_type: ddb.AttributeType, sk: str | None, sk_type: ddb.AttributeType) -> ddb.Table:
            return ddb.Table(
                self,
                name,
                partition_key=ddb.Attribute(name=pk, type=pk_type),
                sort_key=ddb.Attribute(name=sk, type=sk_type) if sk else None,
                billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
                encryption=ddb.TableEncryption.AWS_MANAGED,
                deletion_protection=defaults.production,
                removal_policy=defaults.removal_policy,
            )

        s = ddb.AttributeType.STRING
        # Keyed by the event's generation-qualified position (schema.position): two events can never share an
        # item, a replay rewrites the same item, and a reset's reused (commitNum, opNum) is another key.
        self.records = table("StreamRecords", schema.RECORD_PK, s, None, s)
        self.records.add_global_secondary_index(
            index_name=schema.ELEMENT_INDEX,
            partition_key=ddb.Attribute(name=schema.ELEMENT_ID, type=s),
            sort_key=ddb.Attribute(name=schema.POSITION, type=s),
            projection_type=ddb.ProjectionType.ALL,
        )
        # One partition per stream, sorted by the batch's first event: a Query reads it as a timeline.
        self.history = table("UpdateHistory", schema.STREAM_ID, s, schema.POSITION, s)
        self.checkpoint = table("LatestCheckpoint", schema.STREAM_ID, s, None, s)
