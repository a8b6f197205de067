"""Static checks over template.yaml that cfn-lint cannot make: what each function's role must
allow for the way the code uses AWS.

Run by ./infra/test with the test virtual environment (cfn-lint's decoder reads the intrinsic
functions). Exit 1 with a line per problem.

1. Tables encrypted at rest with a customer managed key (SSEType KMS with KMSMasterKeyId) are
   unusable by a principal that may not use that key through DynamoDB: DynamoDB's own KMS calls
   carry no encryption context of ours. Every function (all read the tables) must allow
   kms:Decrypt, kms:Encrypt, kms:GenerateDataKey* and kms:DescribeKey on that key, limited by
   kms:ViaService to dynamodb in the stack's region, unless the key policy grants it to all.
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
    for failure in failures:
        print(f"template check: {failure}")
    if not failures:
        print(f"template check: every function may use {sorted(keys)} through DynamoDB")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))
