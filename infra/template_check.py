"""Static checks over template.yaml that cfn-lint cannot make: what each function's role must
allow for the way the code uses AWS.

Run by ./infra/test with the test virtual environment (cfn-lint's decoder reads the intrinsic
functions). Exit 1 with a line per problem.

1. Tables encrypted at rest with a customer managed key (SSEType KMS with KMSMasterKeyId) are
   unusable by a principal that may not use that key through DynamoDB: DynamoDB's own KMS calls
   carry no encryption context of ours. Every function (all read the tables) must allow
   kms:Decrypt, kms:Encrypt, kms:GenerateDataKey* and kms:DescribeKey on that key, limited by
   kms:ViaService to dynamodb in the stack's region, unless the key policy grants it to all.
2. The labels bucket holds sealed shipping labels (buyer PII): deletion must be real and access
   private. It must have no versioning, block every kind of public access, deny requests
   without TLS and with TLS below 1.2, and expire `labels/` as a backstop. Every function told
   the bucket (RC_LABELS_BUCKET) must be allowed what its code does there: the label generator
   puts and gets, the merchant API gets and deletes, the purger deletes; those that read or
   write must be able to use the bucket's KMS key through S3.
3. A function told a queue (`RC_*_QUEUE_URL: !Ref <Queue>`) must be allowed sqs:SendMessage on
   it.
   The exports bucket is checked the same way, and its policy must also refuse presigned
   signatures older than 15 minutes (`s3:signatureAge`).
4. Every function is told the app secret (`RC_APP_SECRETS_ARN`, in Globals or its own
   environment) and reads it at start: it must be allowed secretsmanager:GetSecretValue on that
   secret, or app-made connections fail to authenticate there. No parameter may carry a secret
   value (a parameter named like one is refused).
"""

import sys

from cfnlint.decode import decode

NEEDED = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"}


def as_list(value):
    return value if isinstance(value, list) else [value]


def names_key(resource, key):
    """Whether a Resource value refers to the logical id `key` (Ref, GetAtt)."""
    for value in as_list(resource):
        if isinstance(value, dict):
            if value.get("Ref") == key:
                return True
            get_att = value.get("Fn::GetAtt")
            if isinstance(get_att, list) and get_att and get_att[0] == key:
                return True
            if isinstance(get_att, str) and get_att.split(".")[0] == key:
                return True
    return False


def via_dynamodb(condition):
    equals = (condition or {}).get("StringEquals", {})
    service = equals.get("kms:ViaService")
    if isinstance(service, dict):
        service = service.get("Fn::Sub", "")
    return isinstance(service, str) and service.startswith("dynamodb.")


def allowed_through_dynamodb(statements, key):
    granted = set()
    for statement in statements:
        if statement.get("Effect") != "Allow" or not names_key(statement.get("Resource"), key):
            continue
        if via_dynamodb(statement.get("Condition")):
            granted.update(as_list(statement.get("Action", [])))
    return granted


def main(path):
    template, problems = decode(path)
    if problems:
        print(f"{path}: cannot be read: {problems}")
        return 1
    resources = template["Resources"]
    keys = set()
    for name, resource in resources.items():
        if resource.get("Type") == "AWS::DynamoDB::Table":
            sse = resource.get("Properties", {}).get("SSESpecification", {})
            if sse.get("SSEType") == "KMS" and sse.get("KMSMasterKeyId"):
                master = sse["KMSMasterKeyId"]
                key = master.get("Ref") if isinstance(master, dict) else master
                keys.add(key)
    failures = []
    for key in sorted(keys):
        policy = resources.get(key, {}).get("Properties", {}).get("KeyPolicy", {})
        open_to_all = allowed_through_dynamodb(policy.get("Statement", []), key) >= NEEDED
        if open_to_all:
            continue
        for name, resource in resources.items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            statements = []
            for policy in resource.get("Properties", {}).get("Policies", []):
                if isinstance(policy, dict):
                    statements.extend(policy.get("Statement", []))
            missing = NEEDED - allowed_through_dynamodb(statements, key)
            if missing:
                failures.append(
                    f"{name}: may not use {key} through DynamoDB (missing {sorted(missing)}): "
                    f"it cannot read or write the tables encrypted with it"
                )
    failures.extend(labels_bucket(resources))
    failures.extend(exports_bucket(resources))
    failures.extend(queue_senders(resources))
    failures.extend(app_secret_readers(template))
    for failure in failures:
        print(f"template check: {failure}")
    if not failures:
        print(f"template check: every function may use {sorted(keys)} through DynamoDB")
    return 1 if failures else 0


# What each function does with the labels bucket (by its code).
LABEL_ACTIONS = {
    "LabelGeneratorFunction": {"s3:PutObject", "s3:GetObject"},
    "MerchantApiFunction": {"s3:GetObject", "s3:DeleteObject"},
    # The dashboard acts through the merchant API in process.
    "DashboardFunction": {"s3:GetObject", "s3:DeleteObject"},
    "PurgerFunction": {"s3:DeleteObject"},
}


def statements_of(resource):
    statements = []
    for policy in resource.get("Properties", {}).get("Policies", []):
        if isinstance(policy, dict):
            statements.extend(policy.get("Statement", []))
    return statements


def names_bucket(resource, bucket):
    for value in as_list(resource):
        if isinstance(value, dict):
            sub = value.get("Fn::Sub")
            if isinstance(sub, str) and sub.startswith("${" + bucket + ".Arn}"):
                return True
        if names_key(value, bucket):
            return True
    return False


# What each function does with the exports bucket (by its code).
EXPORT_ACTIONS = {
    "ExportWorkerFunction": {"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"},
    "MerchantApiFunction": {"s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"},
    "DashboardFunction": {"s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"},
    "PurgerFunction": {"s3:DeleteObject", "s3:AbortMultipartUpload"},
}


def labels_bucket(resources):
    return private_bucket(resources, "LabelsBucket", "RC_LABELS_BUCKET", LABEL_ACTIONS, False)


def exports_bucket(resources):
    return private_bucket(resources, "ExportsBucket", "RC_EXPORTS_BUCKET", EXPORT_ACTIONS, True)


def private_bucket(resources, bucket, variable, actions, presigned):
    """Check 2 for one bucket of PII: `actions` is what each function does there, `presigned`
    whether it serves presigned downloads (then the policy must refuse signatures older than
    15 minutes)."""
    failures = []
    props = resources.get(bucket, {}).get("Properties")
    if props is None:
        return [f"{bucket} is missing"]
    if props.get("VersioningConfiguration", {}).get("Status") in ("Enabled", "Suspended"):
        failures.append(f"{bucket}: versioning keeps deleted labels; it must stay off")
    block = props.get("PublicAccessBlockConfiguration", {})
    for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
        if block.get(flag) is not True:
            failures.append(f"{bucket}: {flag} must be true")
    rules = props.get("LifecycleConfiguration", {}).get("Rules", [])
    if not any(r.get("Status") == "Enabled" and r.get("ExpirationInDays") for r in rules):
        failures.append(f"{bucket}: no lifecycle expiration backstop")
    encryption = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    if not any(
        e.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") == "aws:kms" for e in encryption
    ):
        failures.append(f"{bucket}: must be encrypted with SSE-KMS")
    denies = set()
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::S3::BucketPolicy":
            continue
        if resource.get("Properties", {}).get("Bucket", {}).get("Ref") != bucket:
            continue
        for statement in resource["Properties"]["PolicyDocument"].get("Statement", []):
            if statement.get("Effect") != "Deny":
                continue
            condition = statement.get("Condition", {})
            if condition.get("Bool", {}).get("aws:SecureTransport") in ("false", False):
                denies.add("plain")
            if "s3:TlsVersion" in condition.get("NumericLessThan", {}):
                denies.add("old-tls")
            age = condition.get("NumericGreaterThan", {}).get("s3:signatureAge")
            if age is not None and int(age) <= 900000:
                denies.add("old-signature")
    needs = [("plain", "requests without TLS"), ("old-tls", "TLS below 1.2")]
    if presigned:
        needs.append(("old-signature", "presigned signatures older than 15 minutes"))
    for need, what in needs:
        if need not in denies:
            failures.append(f"{bucket}: the bucket policy must deny {what}")
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        env = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        told = isinstance(env.get(variable), dict)
        needed = actions.get(name, set())
        if needed and not told:
            failures.append(f"{name}: needs {variable}")
        if not told:
            continue
        allowed = set()
        via_s3 = False
        for statement in statements_of(resource):
            if statement.get("Effect") != "Allow":
                continue
            if names_bucket(statement.get("Resource"), bucket):
                allowed.update(as_list(statement.get("Action", [])))
            service = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
            if isinstance(service, dict):
                service = service.get("Fn::Sub", "")
            if isinstance(service, str) and service.startswith("s3."):
                via_s3 = True
        missing = needed - allowed
        if missing:
            failures.append(f"{name}: may not {sorted(missing)} on {bucket}")
        if needed & {"s3:PutObject", "s3:GetObject"} and not via_s3:
            failures.append(f"{name}: may not use the bucket's KMS key through S3")
    return failures


def queue_senders(resources):
    """A function told a queue (RC_*_QUEUE_URL: !Ref Queue) sends to it: it must be allowed
    sqs:SendMessage on that queue, or its messages fail at run time."""
    failures = []
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        env = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        for variable, value in env.items():
            if not (variable.endswith("_QUEUE_URL") and isinstance(value, dict)):
                continue
            queue = value.get("Ref")
            allowed = any(
                statement.get("Effect") == "Allow"
                and "sqs:SendMessage" in as_list(statement.get("Action", []))
                and names_key(statement.get("Resource"), queue)
                for statement in statements_of(resource)
            )
            if not allowed:
                failures.append(f"{name}: told {variable} but may not sqs:SendMessage to {queue}")
    return failures


def app_secret_readers(template):
    """Every function reads the app secret it is told (check 4)."""
    failures = []
    globals_env = (
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    for name in template.get("Parameters", {}):
        if "secret" in name.lower() or "token" in name.lower():
            failures.append(f"parameter {name}: secret values belong in AppSecrets, not parameters")
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        env = dict(globals_env)
        env.update(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
        value = env.get("RC_APP_SECRETS_ARN")
        if not isinstance(value, dict):
            continue
        secret = value.get("Ref")
        allowed = any(
            statement.get("Effect") == "Allow"
            and "secretsmanager:GetSecretValue" in as_list(statement.get("Action", []))
            and names_key(statement.get("Resource"), secret)
            for statement in statements_of(resource)
        )
        if not allowed:
            failures.append(f"{name}: told RC_APP_SECRETS_ARN but may not read {secret}")
    return failures


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
