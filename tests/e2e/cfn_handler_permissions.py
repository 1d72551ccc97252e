"""What CloudFormation's resource handlers call, per resource type Serverless emits: the
`handlers.{create,update,delete}.permissions` of each type's registry schema (the schema bundle
https://schema.cloudformation.us-east-1.amazonaws.com/CloudformationSchema.zip, read in its copy at
pulumi/pulumi-aws-native 43eed3b0, `aws-cloudformation-schema/<type>.json`, 2026-08-07; cfn-lint
stopped shipping handler permissions after v1.12.3). With `DeployWith: role` CloudFormation makes
these calls as the deployment role (with `caller`, as the deployer); `test_cloudformation_handlers.py`
evaluates each against the generated documents. A list is what a handler may call, depending on
the resource's properties; which of them are outside what the groups support, and why, is in that test.
"""

SCHEMAS = "pulumi/pulumi-aws-native@43eed3b017fff3b41e0ceeae37ee943afce53275:aws-cloudformation-schema/"

HANDLER_PERMISSIONS = {
    "AWS::Lambda::Function": {  # aws-lambda-function.json
        "create": ["ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
                   "elasticfilesystem:DescribeMountTargets", "iam:PassRole", "kms:CreateGrant", "kms:Decrypt",
                   "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "lambda:CreateFunction",
                   "lambda:GetCodeSigningConfig", "lambda:GetFunction", "lambda:GetFunctionCodeSigningConfig",
                   "lambda:GetFunctionRecursionConfig", "lambda:GetLayerVersion",
                   "lambda:GetRuntimeManagementConfig", "lambda:PassCapacityProvider",
                   "lambda:PutFunctionConcurrency", "lambda:PutFunctionRecursionConfig",
                   "lambda:PutFunctionScalingConfig", "lambda:PutRuntimeManagementConfig", "lambda:TagResource",
                   "s3:GetObject", "s3:GetObjectVersion", "s3files:ListMountTargets"],
        "update": ["ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
                   "elasticfilesystem:DescribeMountTargets", "iam:PassRole", "kms:CreateGrant", "kms:Decrypt",
                   "kms:DescribeKey", "kms:GenerateDataKey", "lambda:DeleteFunctionCodeSigningConfig",
                   "lambda:DeleteFunctionConcurrency", "lambda:GetCodeSigningConfig", "lambda:GetFunction",
                   "lambda:GetFunctionCodeSigningConfig", "lambda:GetFunctionRecursionConfig",
                   "lambda:GetRuntimeManagementConfig", "lambda:PassCapacityProvider", "lambda:PublishVersion",
                   "lambda:PutFunctionCodeSigningConfig", "lambda:PutFunctionConcurrency",
                   "lambda:PutFunctionRecursionConfig", "lambda:PutFunctionScalingConfig",
                   "lambda:PutRuntimeManagementConfig", "lambda:TagResource", "lambda:UntagResource",
                   "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "s3:GetObject",
                   "s3:GetObjectVersion", "s3files:ListMountTargets"],
        "delete": ["ec2:DescribeNetworkInterfaces", "lambda:DeleteFunction", "lambda:GetFunction"],
    },
    "AWS::Lambda::Version": {  # aws-lambda-version.json
        "create": ["lambda:GetFunctionConfiguration", "lambda:GetProvisionedConcurrencyConfig",
                   "lambda:GetRuntimeManagementConfig", "lambda:ListVersionsByFunction", "lambda:PublishVersion",
                   "lambda:PutFunctionScalingConfig", "lambda:PutProvisionedConcurrencyConfig",
                   "lambda:PutRuntimeManagementConfig"],
        "update": ["lambda:GetFunctionConfiguration", "lambda:PutFunctionScalingConfig"],
        "delete": ["lambda:DeleteFunction", "lambda:GetFunctionConfiguration"],
    },
    "AWS::Lambda::Alias": {  # aws-lambda-alias.json
        "create": ["lambda:CreateAlias", "lambda:GetProvisionedConcurrencyConfig",
                   "lambda:PutProvisionedConcurrencyConfig"],
        "update": ["codedeploy:CreateDeployment", "codedeploy:GetDeployment", "codedeploy:GetDeploymentConfig",
                   "codedeploy:GetDeploymentGroup", "codedeploy:StopDeployment",
                   "lambda:DeleteProvisionedConcurrencyConfig", "lambda:GetAlias",
                   "lambda:GetProvisionedConcurrencyConfig", "lambda:PutProvisionedConcurrencyConfig",
                   "lambda:UpdateAlias"],
        "delete": ["lambda:DeleteAlias", "lambda:GetAlias"],
    },
    "AWS::Lambda::Permission": {  # aws-lambda-permission.json
        "create": ["lambda:AddPermission"],
        "update": [],
        "delete": ["lambda:RemovePermission"],
    },
    "AWS::Lambda::Url": {  # aws-lambda-url.json
        "create": ["lambda:CreateFunctionUrlConfig"],
        "update": ["lambda:UpdateFunctionUrlConfig"],
        "delete": ["lambda:DeleteFunctionUrlConfig"],
    },
    "AWS::Lambda::EventSourceMapping": {  # aws-lambda-eventsourcemapping.json
        "create": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "lambda:CreateEventSourceMapping",
                   "lambda:GetEventSourceMapping", "lambda:TagResource"],
        "update": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "lambda:GetEventSourceMapping",
                   "lambda:TagResource", "lambda:UntagResource", "lambda:UpdateEventSourceMapping"],
        "delete": ["kms:Decrypt", "lambda:DeleteEventSourceMapping", "lambda:GetEventSourceMapping"],
    },
    "AWS::Lambda::EventInvokeConfig": {  # aws-lambda-eventinvokeconfig.json
        "create": ["lambda:PutFunctionEventInvokeConfig"],
        "update": ["lambda:UpdateFunctionEventInvokeConfig"],
        "delete": ["lambda:DeleteFunctionEventInvokeConfig"],
    },
    "AWS::Lambda::LayerVersion": {  # aws-lambda-layerversion.json
        "create": ["lambda:PublishLayerVersion", "s3:GetObject", "s3:GetObjectVersion"],
        "update": [],
        "delete": ["lambda:DeleteLayerVersion", "lambda:GetLayerVersion"],
    },
    "AWS::Logs::LogGroup": {  # aws-logs-loggroup.json
        "create": ["firehose:TagDeliveryStream", "logs:CreateLogDelivery", "logs:CreateLogGroup",
                   "logs:DescribeIndexPolicies", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
                   "logs:GetDataProtectionPolicy", "logs:PutBearerTokenAuthentication",
                   "logs:PutDataProtectionPolicy", "logs:PutIndexPolicy", "logs:PutResourcePolicy",
                   "logs:PutRetentionPolicy", "logs:TagResource", "s3:REST.PUT.OBJECT"],
        "update": ["firehose:TagDeliveryStream", "logs:AssociateKmsKey", "logs:CreateLogDelivery",
                   "logs:DeleteIndexPolicy", "logs:DeleteResourcePolicy", "logs:DeleteRetentionPolicy",
                   "logs:DescribeLogGroups", "logs:DescribeResourcePolicies", "logs:DisassociateKmsKey",
                   "logs:GetDataProtectionPolicy", "logs:ListTagsForResource", "logs:PutBearerTokenAuthentication",
                   "logs:PutDataProtectionPolicy", "logs:PutIndexPolicy", "logs:PutLogGroupDeletionProtection",
                   "logs:PutResourcePolicy", "logs:PutRetentionPolicy", "logs:TagResource", "logs:UntagResource",
                   "s3:REST.PUT.OBJECT"],
        "delete": ["logs:DeleteDataProtectionPolicy", "logs:DeleteLogGroup", "logs:DescribeLogGroups"],
    },
    "AWS::Events::Rule": {  # aws-events-rule.json
        "create": ["events:DescribeRule", "events:PutRule", "events:PutTargets", "events:TagResource",
                   "iam:PassRole"],
        "update": ["events:DescribeRule", "events:PutRule", "events:PutTargets", "events:RemoveTargets",
                   "events:TagResource", "events:UntagResource", "iam:PassRole"],
        "delete": ["events:DeleteRule", "events:DescribeRule", "events:ListTargetsByRule", "events:RemoveTargets",
                   "iam:PassRole"],
    },
    "AWS::ApiGateway::RestApi": {  # aws-apigateway-restapi.json
        "create": ["apigateway:GET", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT",
                   "apigateway:UpdateRestApiPolicy", "iam:PassRole", "s3:GetObject"],
        "update": ["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:PUT",
                   "apigateway:UpdateRestApiPolicy", "iam:PassRole", "s3:GetObject"],
        "delete": ["apigateway:DELETE"],
    },
    "AWS::ApiGateway::Resource": {  # aws-apigateway-resource.json
        "create": ["apigateway:POST"],
        "update": ["apigateway:GET", "apigateway:PATCH"],
        "delete": ["apigateway:DELETE"],
    },
    "AWS::ApiGateway::Method": {  # aws-apigateway-method.json
        "create": ["apigateway:GET", "apigateway:PUT", "iam:PassRole"],
        "update": ["apigateway:DELETE", "apigateway:GET", "apigateway:PUT", "iam:PassRole"],
        "delete": ["apigateway:DELETE"],
    },
    "AWS::ApiGateway::Deployment": {  # aws-apigateway-deployment.json
        "create": ["apigateway:GET", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"],
        "update": ["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:PUT"],
        "delete": ["apigateway:DELETE", "apigateway:GET"],
    },
    "AWS::ApiGateway::Stage": {  # aws-apigateway-stage.json
        "create": ["apigateway:GET", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"],
        "update": ["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:PUT"],
        "delete": ["apigateway:DELETE"],
    },
    "AWS::ApiGatewayV2::Api": {  # aws-apigatewayv2-api.json
        "create": ["apigateway:POST", "apigateway:PUT", "s3:getObject"],
        "update": ["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT",
                   "s3:getObject"],
        "delete": ["apigateway:DELETE", "apigateway:GET", "s3:getObject"],
    },
    "AWS::ApiGatewayV2::Route": {  # aws-apigatewayv2-route.json
        "create": ["apigateway:POST"],
        "update": ["apigateway:GET", "apigateway:PATCH", "apigateway:PUT"],
        "delete": ["apigateway:DELETE", "apigateway:GET"],
    },
    "AWS::ApiGatewayV2::Integration": {  # aws-apigatewayv2-integration.json
        "create": ["apigateway:POST", "iam:PassRole"],
        "update": ["apigateway:GET", "apigateway:PATCH", "apigateway:PUT", "iam:PassRole"],
        "delete": ["apigateway:DELETE", "apigateway:GET"],
    },
    "AWS::ApiGatewayV2::Stage": {  # aws-apigatewayv2-stage.json
        "create": ["apigateway:POST", "apigateway:TagResource"],
        "update": ["apigateway:DELETE", "apigateway:PATCH", "apigateway:POST", "apigateway:TagResource",
                   "apigateway:UntagResource"],
        "delete": ["apigateway:DELETE"],
    },
    "AWS::S3::Bucket": {  # aws-s3-bucket.json
        "create": ["iam:PassRole", "s3:CreateBucket", "s3:CreateBucketMetadataTableConfiguration", "s3:DeleteObject",
                   "s3:GetBucketAcl", "s3:GetBucketMetadataTableConfiguration", "s3:ListBucket",
                   "s3:PutAccelerateConfiguration", "s3:PutAnalyticsConfiguration", "s3:PutBucketAbac",
                   "s3:PutBucketCORS", "s3:PutBucketLogging", "s3:PutBucketNotification",
                   "s3:PutBucketObjectLockConfiguration", "s3:PutBucketOwnershipControls",
                   "s3:PutBucketPublicAccessBlock", "s3:PutBucketReplication", "s3:PutBucketTagging",
                   "s3:PutBucketVersioning", "s3:PutBucketWebsite", "s3:PutEncryptionConfiguration",
                   "s3:PutIntelligentTieringConfiguration", "s3:PutInventoryConfiguration",
                   "s3:PutLifecycleConfiguration", "s3:PutMetricsConfiguration", "s3:PutObjectAcl",
                   "s3:PutObjectLockConfiguration", "s3:PutReplicationConfiguration", "s3:TagResource",
                   "s3tables:CreateNamespace", "s3tables:CreateTable", "s3tables:CreateTableBucket",
                   "s3tables:GetTable", "s3tables:GetTableMetadataLocation", "s3tables:PutTableBucketPolicy",
                   "s3tables:PutTableEncryption", "s3tables:PutTablePolicy", "s3tables:UpdateTableMetadataLocation"],
        "update": ["iam:PassRole", "s3:CreateBucketMetadataTableConfiguration",
                   "s3:DeleteBucketAnalyticsConfiguration", "s3:DeleteBucketCors", "s3:DeleteBucketEncryption",
                   "s3:DeleteBucketLifecycle", "s3:DeleteBucketMetadataTableConfiguration",
                   "s3:DeleteBucketMetricsConfiguration", "s3:DeleteBucketReplication", "s3:DeleteBucketWebsite",
                   "s3:GetBucketMetadataTableConfiguration", "s3:ListBucket", "s3:PutAccelerateConfiguration",
                   "s3:PutAnalyticsConfiguration", "s3:PutBucketAbac", "s3:PutBucketAcl", "s3:PutBucketCORS",
                   "s3:PutBucketLogging", "s3:PutBucketNotification", "s3:PutBucketObjectLockConfiguration",
                   "s3:PutBucketOwnershipControls", "s3:PutBucketPublicAccessBlock", "s3:PutBucketReplication",
                   "s3:PutBucketTagging", "s3:PutBucketVersioning", "s3:PutBucketWebsite",
                   "s3:PutEncryptionConfiguration", "s3:PutIntelligentTieringConfiguration",
                   "s3:PutInventoryConfiguration", "s3:PutLifecycleConfiguration", "s3:PutMetricsConfiguration",
                   "s3:PutObjectLockConfiguration", "s3:PutReplicationConfiguration", "s3:TagResource",
                   "s3:UntagResource", "s3:UpdateBucketMetadataAnnotationTableConfiguration",
                   "s3:UpdateBucketMetadataInventoryTableConfiguration",
                   "s3:UpdateBucketMetadataJournalTableConfiguration", "s3tables:CreateNamespace",
                   "s3tables:CreateTable", "s3tables:CreateTableBucket", "s3tables:GetTable",
                   "s3tables:GetTableMetadataLocation", "s3tables:PutTableBucketPolicy",
                   "s3tables:PutTableEncryption", "s3tables:PutTablePolicy", "s3tables:UpdateTableMetadataLocation"],
        "delete": ["s3:DeleteBucket", "s3:ListBucket"],
    },
    "AWS::S3::BucketPolicy": {  # aws-s3-bucketpolicy.json
        "create": ["s3:GetBucketPolicy", "s3:PutBucketPolicy"],
        "update": ["s3:GetBucketPolicy", "s3:PutBucketPolicy"],
        "delete": ["s3:DeleteBucketPolicy", "s3:GetBucketPolicy"],
    },
}


# The ownership tags every deployer's service file sets as `provider.stackTags` (README, "Ownership
# tags"; examples/serverless*.yml). CloudFormation propagates stack tags to the resources it creates
# that take tags (AWS::ApiGateway::RestApi and ::Stage, AWS::ApiGatewayV2::Api and ::Stage,
# AWS::Lambda::EventSourceMapping among them): the create request carries them (`aws:RequestTag`,
# `aws:TagKeys`), and the resource has them afterwards (`aws:ResourceTag`; an API's children inherit
# its tags, API Gateway Developer Guide, apigateway-tagging-supported-resources).
def stack_tags(service="orders", stage="dev"):
    return {"serverless-access:service": service, "serverless-access:stage": stage}


def creating(tags):
    """The tag condition keys of a request that creates a resource with `tags`."""
    return dict({f"aws:RequestTag/{k}": v for k, v in tags.items()}, **{"aws:TagKeys": sorted(tags)})


def existing(tags):
    """The tag condition keys of a request on a resource that has `tags`."""
    return {f"aws:ResourceTag/{k}": v for k, v in tags.items()}


# Which apigateway calls of each handler create the resource (the stack's tags in the request) and
# on what: the API itself (`POST /restapis`, `POST /apis`) or a stage under it (`POST …/stages`, the
# stage tagged too); every other call is on the existing API or under it. Sources: the API Gateway
# REST and V2 API references (CreateRestApi, CreateApi, CreateStage take `tags`).
API_CREATES = {
    "AWS::ApiGateway::RestApi": "/restapis",
    "AWS::ApiGatewayV2::Api": "/apis",
    "AWS::ApiGateway::Stage": "/restapis/a1b2c3d4e5/stages",
    "AWS::ApiGatewayV2::Stage": "/apis/a1b2c3d4e5/stages",
}
